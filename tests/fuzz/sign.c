/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the minisign texts ureg reads from untrusted places: public
 * keys, signatures (key id, then verification against a fixed key) and
 * unencrypted secret keys. Input: the text; every parser sees it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The message the seed signatures sign (with the key of seed 0x5e, id
 * 0x0123456789abcdef). */
static const char message[] = "ureg fuzz message\n";

/* A parsed key formats to a text that parses to the same key, and its
 * base64 line is the one in the input. */
static void check_public_key(const ureg_public_key *pk, const char *text)
{
	char b64[UREG_SIGN_PUBKEY_B64LEN + 1], id[UREG_SIGN_KEYID_STRLEN + 1];
	ureg_public_key *again = NULL;
	char *formatted = NULL;

	ureg_public_key_base64(b64, pk);
	ureg_public_key_id(id, pk);
	if (!strstr(text, b64) || !ureg_sign_key_id_is_valid(id))
		abort();
	if (ureg_public_key_format(&formatted, pk) != 0 ||
	    ureg_public_key_parse(&again, formatted, strlen(formatted)) != 0 ||
	    !ureg_public_key_equal(pk, again))
		abort();
	free(formatted);
	ureg_public_key_free(again);
}

static void check_signature(const ureg_public_key *pk, const char *text,
                            size_t len)
{
	char id[UREG_SIGN_KEYID_STRLEN + 1], pk_id[UREG_SIGN_KEYID_STRLEN + 1];
	char *tc = NULL;
	int perr, verr;

	perr = ureg_sign_parse_key_id(id, text, len);
	verr = ureg_sign_verify(pk, message, sizeof(message) - 1, text, len,
	                        &tc);
	if (perr < 0) {
		/* verification reads the text the same way */
		if (verr != perr || id[0] || tc)
			abort();
		return;
	}
	if (!ureg_sign_key_id_is_valid(id) ||
	    (verr != 0 && verr != UREG_ESIGNATURE))
		abort();
	ureg_public_key_id(pk_id, pk);
	if (verr == UREG_ESIGNATURE && tc)
		abort();
	if (verr == 0) {
		/* only the key's own id verifies; the comment is one line of
		 * the text */
		if (strcmp(id, pk_id) != 0 || !tc || strpbrk(tc, "\r\n") ||
		    !strstr(text, tc))
			abort();
	}
	free(tc);
}

/* An unencrypted secret key that loads signs what its public half
 * verifies. */
static void check_secret_key(const char *text, size_t len)
{
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL;
	char *sig = NULL, *tc = NULL, *saved = NULL;
	char id[UREG_SIGN_KEYID_STRLEN + 1], pk_id[UREG_SIGN_KEYID_STRLEN + 1];
	int needs = ureg_secret_key_needs_passphrase(text, len);
	int error = ureg_secret_key_load(&sk, text, len, NULL);

	if (error < 0) {
		if (sk)
			abort();
		return;
	}
	if (needs != 0)
		abort();
	ureg_secret_key_id(id, sk);
	if (!ureg_sign_key_id_is_valid(id) ||
	    ureg_secret_key_public(&pk, sk) != 0)
		abort();
	ureg_public_key_id(pk_id, pk);
	if (strcmp(id, pk_id) != 0 ||
	    ureg_sign(&sig, sk, message, sizeof(message) - 1, "fuzz", NULL) !=
	            0 ||
	    ureg_sign_verify(pk, message, sizeof(message) - 1, sig, strlen(sig),
	                     &tc) != 0 ||
	    strcmp(tc, "fuzz") != 0)
		abort();
	/* saved without a passphrase, it loads as the same key */
	if (ureg_secret_key_save(&saved, sk, NULL, NULL) != 0)
		abort();
	ureg_secret_key_free(sk);
	sk = NULL;
	if (ureg_secret_key_load(&sk, saved, strlen(saved), NULL) != 0)
		abort();
	ureg_secret_key_id(id, sk);
	if (strcmp(id, pk_id) != 0)
		abort();
	ureg_secret_key_text_free(saved);
	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
	free(sig);
	free(tc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char seed[UREG_SIGN_SEEDBYTES] = {0x5e};
	static const unsigned char key_id[UREG_SIGN_KEYIDBYTES] = {
	        0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
	static ureg_secret_key *fixed_sk;
	static ureg_public_key *fixed_pk;
	ureg_public_key *pk = NULL;
	char *text;

	if (!fixed_pk &&
	    ureg_sign_keygen_seeded(&fixed_sk, &fixed_pk, seed, key_id) != 0)
		abort();
	/* a NUL-terminated copy, for the checks that search it */
	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (ureg_public_key_parse(&pk, text, size) == 0) {
		if (!pk)
			abort();
		check_public_key(pk, text);
	} else if (pk) {
		abort();
	}
	ureg_public_key_free(pk);
	check_signature(fixed_pk, text, size);
	check_secret_key(text, size);
	free(text);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for common/sign: known answers, round trips, each refusal with its
 * own message, and interoperability with Debian's minisign both ways. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/sign.h"
#include "support/tmpdir.h"

#define MINISIGN "/usr/bin/minisign"

/* Known answers. Computed once with ureg, then checked with minisign 0.11:
 * `minisign -Vm` accepts KAT_SIG with KAT_PUB, `minisign -S` with KAT_SEC
 * writes KAT_SIG byte for byte, `minisign -R` derives KAT_PUB from KAT_SEC,
 * and KAT_LEGACY_SIG is what `minisign -S -l` wrote with KAT_SEC. */
static const unsigned char kat_seed[] = "ureg sign known-answer seed 0001";
static const unsigned char kat_id[8] = {0x01, 0x23, 0x45, 0x67,
                                        0x89, 0xab, 0xcd, 0x0e};
/* little-endian u64 0x0ECDAB8967452301, printed without leading zeros */
#define KAT_KEYID "ECDAB8967452301"
#define KAT_PUB_B64 "RWQBI0VniavNDr5zdELYdhDP3nuek2aSIigIzE/2xQ6ztk0DpHKMeUqs"
#define KAT_PUB                                                                \
	"untrusted comment: minisign public key " KAT_KEYID "\n" KAT_PUB_B64   \
	"\n"
#define KAT_SEC                                                                \
	"untrusted comment: ureg secret key " KAT_KEYID "\n"                   \
	"RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAAASNFZ4mrzQ51cmVnIHNpZ24ga25vd24tYW5zd2VyIHNlZWQgMDAwMb5zdELYdhDP" \
	"3nuek2aSIigIzE/2xQ6ztk0DpHKMeUqsNKseKkq6u4PmDI4nr8bjyBBTYr4pI37zjgQ0" \
	"2N25AaU=\n"
#define KAT_MSG "ureg known-answer message\n"
#define KAT_TC "name:kat\tversion:1.0.0"
#define KAT_SIG                                                                \
	"untrusted comment: kat\n"                                             \
	"RUQBI0VniavNDrYPFODAPV4P1JLZyZBrjX2gzROUuQNrqc24ekS3fEC6V8K1G8lWD/NG" \
	"8xL5Tl3gIauSFPX1fsfyKPpwMg73QwM=\n"                                   \
	"trusted comment: " KAT_TC "\n"                                        \
	"rFIe26+W+JSeZUEqL3CQAx632dkOnns+73pCfzCeZMKSjFzri7GV4OtXEJlgJvBrdFVs" \
	"M2l8bAZ9cFZPmjSHAQ==\n"
#define KAT_LEGACY_SIG                                                         \
	"untrusted comment: legacy\n"                                          \
	"RWQBI0VniavNDiVr4KW/xL2uL6H1xxDAmOTeHRqGlxB8yUn74C73t9qKp1hE0jwbdrkZ" \
	"KJVRt2q978z0dI4ESqYhjhHNMd7z0gg=\n"                                   \
	"trusted comment: legacy kat\n"                                        \
	"j6fGgrX1fGk5MMKaztL/8Llfc1KdbSvSesOX9QDPmbIV/mJj5gjL9rEcDBxTs+hr51Gp" \
	"p9FKFhnqMc65uzyqCA==\n"

static const ureg_kdf_limits fast = UREG_KDF_LIMITS_MIN;

/* --- helpers ------------------------------------------------------------- */

static void expect_error(int rc, int code, const char *message)
{
	if (rc != code || !strstr(ureg_error_last(), message))
		fail_msg("got %d \"%s\", want %d containing \"%s\"", rc,
		         ureg_error_last(), code, message);
}

static void kat_pair(ureg_secret_key **sk, ureg_public_key **pk)
{
	assert_int_equal(ureg_sign_keygen_seeded(sk, pk, kat_seed, kat_id), 0);
}

static char *sign_text(const ureg_secret_key *sk, const char *msg,
                       const char *tc)
{
	char *sig = NULL;

	assert_int_equal(ureg_sign(&sig, sk, msg, strlen(msg), tc, NULL), 0);
	return sig;
}

static int verify_text(const ureg_public_key *pk, const char *msg,
                       const char *sig, char **tc)
{
	return ureg_sign_verify(pk, msg, strlen(msg), sig, strlen(sig), tc);
}

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Plain base64 so tests can craft keys and signatures byte by byte. */
static char *b64_encode(const unsigned char *in, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i;

	assert_non_null(out);
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*o++ = b64_alphabet[v >> 18 & 63];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64_alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static size_t b64_decode(unsigned char *out, const char *in, size_t n)
{
	unsigned v = 0;
	size_t i, bits = 0, len = 0;

	for (i = 0; i < n && in[i] != '='; i++) {
		const char *p = strchr(b64_alphabet, in[i]);

		assert_non_null(p);
		v = v << 6 | (unsigned)(p - b64_alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(v >> bits & 0xff);
		}
	}
	return len;
}

/* Decodes line `lineno` (1-based) of `text`, lets `edit` change the bytes,
 * and returns the text with that line re-encoded. */
static char *edit_b64_line(const char *text, int lineno,
                           void (*edit)(unsigned char *raw, size_t n))
{
	unsigned char raw[256];
	const char *start = text, *end;
	char *b64, *out;
	size_t n, size;
	int i;

	for (i = 1; i < lineno; i++)
		start = strchr(start, '\n') + 1;
	end = strchr(start, '\n');
	n = b64_decode(raw, start, (size_t)(end - start));
	edit(raw, n);
	b64 = b64_encode(raw, n);
	size = strlen(text) + strlen(b64) + 1;
	out = malloc(size);
	assert_non_null(out);
	snprintf(out, size, "%.*s%s%s", (int)(start - text), text, b64, end);
	free(b64);
	return out;
}

/* Returns a copy of `text` with the character at `pos` of line `lineno`
 * (1-based) replaced by a different base64 character. */
static char *flip_char(const char *text, int lineno, size_t pos)
{
	char *out = strdup(text), *p = out;
	int i;

	assert_non_null(out);
	for (i = 1; i < lineno; i++)
		p = strchr(p, '\n') + 1;
	p[pos] = p[pos] == 'A' ? 'B' : 'A';
	return out;
}

static char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *dir, const char *name, const void *data,
                       size_t len)
{
	char *path = path_in(dir, name);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(path);
}

static char *read_file(const char *dir, const char *name)
{
	char *path = path_in(dir, name), *buf;
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	free(path);
	return buf;
}

/* Runs `args` (NULL-terminated) in `dir` with `input` on stdin, stdout and
 * stderr into dir/out.txt; returns the exit status and, if `output` is not
 * NULL, what it printed. */
static int run_in(const char *dir, const char *input, char **output,
                  const char *const *args)
{
	char *argv[16], *in_path, *out_path;
	int status = 0, fd, i;
	pid_t pid;

	for (i = 0; args[i]; i++) {
		assert_true(i < 15);
		argv[i] = strdup(args[i]);
		assert_non_null(argv[i]);
	}
	argv[i] = NULL;
	write_file(dir, "in.txt", input ? input : "",
	           input ? strlen(input) : 0);
	in_path = path_in(dir, "in.txt");
	out_path = path_in(dir, "out.txt");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (chdir(dir) != 0 || (fd = open(in_path, O_RDONLY)) < 0 ||
		    dup2(fd, 0) < 0)
			_exit(126);
		close(fd);
		if ((fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) <
		            0 ||
		    dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		close(fd);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(in_path);
	free(out_path);
	if (output)
		*output = read_file(dir, "out.txt");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void need_minisign(void)
{
	if (access(MINISIGN, X_OK) != 0)
		skip();
}

/* The key id on line 1 of a minisign public key file. */
static void pub_file_id(char out[UREG_SIGN_KEYID_STRLEN + 1], const char *text)
{
	const char *p = strstr(text, "public key ");
	size_t n;

	assert_non_null(p);
	p += strlen("public key ");
	n = strcspn(p, "\n");
	assert_true(n <= UREG_SIGN_KEYID_STRLEN);
	memcpy(out, p, n);
	out[n] = '\0';
}

/* --- known answers ------------------------------------------------------- */

static void test_kat_keys(void **state)
{
	ureg_secret_key *sk = NULL, *loaded = NULL;
	ureg_public_key *pk = NULL, *parsed = NULL, *half = NULL;
	char id[UREG_SIGN_KEYID_STRLEN + 1], b64[UREG_SIGN_PUBKEY_B64LEN + 1];
	char *text = NULL;

	(void)state;
	kat_pair(&sk, &pk);
	ureg_public_key_id(id, pk);
	assert_string_equal(id, KAT_KEYID);
	ureg_secret_key_id(id, sk);
	assert_string_equal(id, KAT_KEYID);
	ureg_public_key_base64(b64, pk);
	assert_string_equal(b64, KAT_PUB_B64);

	assert_int_equal(ureg_public_key_format(&text, pk), 0);
	assert_string_equal(text, KAT_PUB);
	free(text);
	/* unencrypted keys have no random salt: the text is fixed too */
	assert_int_equal(ureg_secret_key_save(&text, sk, NULL, NULL), 0);
	assert_string_equal(text, KAT_SEC);
	ureg_secret_key_text_free(text);

	assert_int_equal(
	        ureg_public_key_parse(&parsed, KAT_PUB, strlen(KAT_PUB)), 0);
	assert_true(ureg_public_key_equal(parsed, pk));
	ureg_public_key_free(parsed);
	/* the bare base64 line, as `minisign -P` takes it */
	assert_int_equal(ureg_public_key_parse(&parsed, KAT_PUB_B64,
	                                       strlen(KAT_PUB_B64)),
	                 0);
	assert_true(ureg_public_key_equal(parsed, pk));

	assert_int_equal(
	        ureg_secret_key_needs_passphrase(KAT_SEC, strlen(KAT_SEC)), 0);
	assert_int_equal(
	        ureg_secret_key_load(&loaded, KAT_SEC, strlen(KAT_SEC), NULL),
	        0);
	assert_int_equal(ureg_secret_key_public(&half, loaded), 0);
	assert_true(ureg_public_key_equal(half, pk));

	ureg_secret_key_free(sk);
	ureg_secret_key_free(loaded);
	ureg_public_key_free(pk);
	ureg_public_key_free(parsed);
	ureg_public_key_free(half);
}

static void test_kat_signature(void **state)
{
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL;
	char id[UREG_SIGN_KEYID_STRLEN + 1];
	char *sig, *tc = NULL;

	(void)state;
	kat_pair(&sk, &pk);
	assert_int_equal(
	        ureg_sign(&sig, sk, KAT_MSG, strlen(KAT_MSG), KAT_TC, "kat"),
	        0);
	assert_string_equal(sig, KAT_SIG);
	assert_int_equal(verify_text(pk, KAT_MSG, sig, &tc), 0);
	assert_string_equal(tc, KAT_TC);
	free(tc);
	free(sig);

	assert_int_equal(ureg_sign_parse_key_id(id, KAT_SIG, strlen(KAT_SIG)),
	                 0);
	assert_string_equal(id, KAT_KEYID);

	/* legacy "Ed": signed over the message itself, not its hash */
	assert_int_equal(verify_text(pk, KAT_MSG, KAT_LEGACY_SIG, &tc), 0);
	assert_string_equal(tc, "legacy kat");
	free(tc);
	expect_error(verify_text(pk, "ureg known-answer messagE\n",
	                         KAT_LEGACY_SIG, NULL),
	             UREG_ESIGNATURE,
	             "signature does not verify: the content is not what was "
	             "signed");

	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
}

/* --- round trips --------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	static const unsigned char binary[] = {0, 1, 2, 0, 0xff, '\n', 0};
	ureg_secret_key *sk = NULL, *plain = NULL, *enc = NULL;
	ureg_public_key *pk = NULL, *pk2 = NULL, *parsed = NULL;
	char id[UREG_SIGN_KEYID_STRLEN + 1], id2[UREG_SIGN_KEYID_STRLEN + 1];
	char *text = NULL, *sig = NULL, *sig2 = NULL, *tc = NULL;

	(void)state;
	assert_int_equal(ureg_sign_keygen(&sk, &pk), 0);
	assert_int_equal(ureg_sign_keygen(&plain, &pk2), 0);
	/* two keys differ in id and key */
	assert_false(ureg_public_key_equal(pk, pk2));
	ureg_secret_key_free(plain);
	plain = NULL;

	assert_int_equal(
	        ureg_sign(&sig, sk, binary, sizeof(binary), "t\tc", "u"), 0);
	assert_int_equal(ureg_sign_verify(pk, binary, sizeof(binary), sig,
	                                  strlen(sig), &tc),
	                 0);
	assert_string_equal(tc, "t\tc");
	free(tc);
	tc = NULL;
	expect_error(ureg_sign_verify(pk, binary, sizeof(binary) - 1, sig,
	                              strlen(sig), &tc),
	             UREG_ESIGNATURE, "signature does not verify");
	assert_null(tc);
	ureg_public_key_id(id, pk);
	assert_int_equal(ureg_sign_parse_key_id(id2, sig, strlen(sig)), 0);
	assert_string_equal(id, id2);
	free(sig);

	/* empty message, NULL trusted comment ("") */
	assert_int_equal(ureg_sign(&sig, sk, NULL, 0, NULL, NULL), 0);
	assert_non_null(strstr(sig, "\ntrusted comment: \n"));
	assert_non_null(strstr(sig, "untrusted comment: signature from ureg"));
	assert_int_equal(ureg_sign_verify(pk, NULL, 0, sig, strlen(sig), &tc),
	                 0);
	assert_string_equal(tc, "");
	free(tc);
	free(sig);

	/* public key text round trip */
	assert_int_equal(ureg_public_key_format(&text, pk), 0);
	assert_int_equal(ureg_public_key_parse(&parsed, text, strlen(text)), 0);
	assert_true(ureg_public_key_equal(parsed, pk));
	free(text);

	/* secret key text, unencrypted and encrypted: the loaded key signs
	 * byte for byte as the original (Ed25519 is deterministic) */
	sig = sign_text(sk, "hello", "tc");
	assert_int_equal(ureg_secret_key_save(&text, sk, NULL, NULL), 0);
	assert_int_equal(ureg_secret_key_needs_passphrase(text, strlen(text)),
	                 0);
	assert_int_equal(
	        ureg_secret_key_load(&plain, text, strlen(text), "ignored"), 0);
	ureg_secret_key_text_free(text);
	assert_int_equal(ureg_secret_key_save(&text, sk, "pass word", &fast),
	                 0);
	assert_int_equal(ureg_secret_key_needs_passphrase(text, strlen(text)),
	                 1);
	assert_int_equal(
	        ureg_secret_key_load(&enc, text, strlen(text), "pass word"), 0);
	ureg_secret_key_text_free(text);
	sig2 = sign_text(plain, "hello", "tc");
	assert_string_equal(sig, sig2);
	free(sig2);
	sig2 = sign_text(enc, "hello", "tc");
	assert_string_equal(sig, sig2);
	ureg_secret_key_id(id2, enc);
	assert_string_equal(id, id2);

	free(sig);
	free(sig2);
	ureg_secret_key_free(sk);
	ureg_secret_key_free(plain);
	ureg_secret_key_free(enc);
	ureg_public_key_free(pk);
	ureg_public_key_free(pk2);
	ureg_public_key_free(parsed);
}

/* --- refusals ------------------------------------------------------------ */

enum tamper_kind {
	T_NONE,
	T_MESSAGE,
	T_UNTRUSTED,
	T_TRUSTED,
	T_SIG_BYTES,
	T_GLOBAL_SIG,
	T_OTHER_KEY,
	T_SAME_ID_OTHER_KEY,
};

static void test_tamper(void **state)
{
	static const struct {
		enum tamper_kind kind;
		int code;
		const char *message;
	} cases[] = {
	        {T_NONE, 0, ""},
	        /* the untrusted comment is not signed */
	        {T_UNTRUSTED, 0, ""},
	        {T_MESSAGE, UREG_ESIGNATURE,
	         "signature does not verify: the content is not what was "
	         "signed"},
	        {T_TRUSTED, UREG_ESIGNATURE,
	         "trusted comment signature does not verify"},
	        {T_GLOBAL_SIG, UREG_ESIGNATURE,
	         "trusted comment signature does not verify"},
	        {T_SIG_BYTES, UREG_ESIGNATURE,
	         "signature does not verify, nor does its trusted comment "
	         "signature: the signature was altered or made by another key"},
	        {T_SAME_ID_OTHER_KEY, UREG_ESIGNATURE,
	         "signature does not verify, nor does its trusted comment "
	         "signature"},
	        {T_OTHER_KEY, UREG_ESIGNATURE,
	         "does not match public key " KAT_KEYID},
	};
	static const unsigned char other_seed[32] = {42};
	static const unsigned char other_id[8] = {9, 9, 9, 9, 9, 9, 9, 0x7f};
	ureg_secret_key *sk = NULL, *osk = NULL, *same_sk = NULL;
	ureg_public_key *pk = NULL, *opk = NULL, *same_pk = NULL;
	char msg[] = KAT_MSG;
	char *sig, *tc = NULL, *p;
	size_t i;

	(void)state;
	kat_pair(&sk, &pk);
	assert_int_equal(
	        ureg_sign_keygen_seeded(&osk, &opk, other_seed, other_id), 0);
	assert_int_equal(
	        ureg_sign_keygen_seeded(&same_sk, &same_pk, other_seed, kat_id),
	        0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		memcpy(msg, KAT_MSG, sizeof(msg));
		sig = strdup(KAT_SIG);
		assert_non_null(sig);
		switch (cases[i].kind) {
		case T_NONE:
			break;
		case T_MESSAGE:
			msg[3] ^= 1;
			break;
		case T_UNTRUSTED:
			sig[strlen("untrusted comment: ")] = 'K';
			break;
		case T_TRUSTED:
			p = strstr(sig, "name:kat");
			p[0] = 'N';
			break;
		case T_SIG_BYTES:
			free(sig);
			sig = flip_char(KAT_SIG, 2, 50);
			break;
		case T_GLOBAL_SIG:
			free(sig);
			sig = flip_char(KAT_SIG, 4, 40);
			break;
		case T_OTHER_KEY:
			free(sig);
			sig = sign_text(osk, msg, KAT_TC);
			break;
		case T_SAME_ID_OTHER_KEY:
			free(sig);
			sig = sign_text(same_sk, msg, KAT_TC);
			break;
		}
		rc = verify_text(pk, msg, sig, &tc);
		if (cases[i].code == 0) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, ureg_error_last());
			assert_string_equal(tc, KAT_TC);
			free(tc);
			tc = NULL;
		} else {
			expect_error(rc, cases[i].code, cases[i].message);
			assert_null(tc);
		}
		free(sig);
	}
	/* the whole message for a foreign key names both ids */
	sig = sign_text(osk, msg, "x");
	expect_error(verify_text(pk, msg, sig, NULL), UREG_ESIGNATURE,
	             "signature key id 7F09090909090909 does not match public "
	             "key " KAT_KEYID);
	free(sig);

	ureg_secret_key_free(sk);
	ureg_secret_key_free(osk);
	ureg_secret_key_free(same_sk);
	ureg_public_key_free(pk);
	ureg_public_key_free(opk);
	ureg_public_key_free(same_pk);
}

static void set_ops_huge(unsigned char *raw, size_t n)
{
	assert_int_equal(n, 158);
	raw[38 + 7] = 0x7f; /* opslimit, little endian */
}

static void test_passphrase(void **state)
{
	ureg_secret_key *sk = NULL, *loaded = NULL;
	ureg_public_key *pk = NULL;
	ureg_kdf_limits weak = {UREG_KDF_OPSLIMIT_MIN - 1,
	                        UREG_KDF_MEMLIMIT_MIN};
	char *text = NULL, *edited, *minisign_style, *long_pass;
	size_t n;

	(void)state;
	kat_pair(&sk, &pk);
	assert_int_equal(
	        ureg_secret_key_save(&text, sk, "correct horse", &fast), 0);
	expect_error(
	        ureg_secret_key_load(&loaded, text, strlen(text), "battery"),
	        UREG_EDENIED, "wrong passphrase for secret key " KAT_KEYID);
	assert_null(loaded);
	expect_error(ureg_secret_key_load(&loaded, text, strlen(text), NULL),
	             UREG_EINVALID,
	             "secret key " KAT_KEYID " is encrypted: a passphrase is "
	             "needed");
	expect_error(ureg_secret_key_load(&loaded, text, strlen(text), ""),
	             UREG_EDENIED, "wrong passphrase");

	/* minisign's comment line names no key id: the message still says
	 * what went wrong */
	n = strlen(text) + 64;
	minisign_style = malloc(n);
	assert_non_null(minisign_style);
	snprintf(minisign_style, n, "%s%s",
	         "untrusted comment: minisign encrypted secret key",
	         strchr(text, '\n'));
	expect_error(ureg_secret_key_load(&loaded, minisign_style,
	                                  strlen(minisign_style), "battery"),
	             UREG_EDENIED, "wrong passphrase for secret key");
	assert_string_equal(ureg_error_last(),
	                    "wrong passphrase for secret key");
	assert_int_equal(ureg_secret_key_load(&loaded, minisign_style,
	                                      strlen(minisign_style),
	                                      "correct horse"),
	                 0);
	ureg_secret_key_free(loaded);
	loaded = NULL;
	free(minisign_style);

	/* a key file may not ask scrypt for unbounded work */
	edited = edit_b64_line(text, 2, set_ops_huge);
	expect_error(ureg_secret_key_load(&loaded, edited, strlen(edited),
	                                  "correct horse"),
	             UREG_ETOOBIG, "secret key asks for scrypt limits");
	free(edited);
	ureg_secret_key_text_free(text);
	text = NULL;

	expect_error(ureg_secret_key_save(&text, sk, "", &fast), UREG_EINVALID,
	             "empty passphrase");
	expect_error(ureg_secret_key_save(&text, sk, "x", &weak), UREG_EINVALID,
	             "scrypt limits 32767/16777216 are outside");
	long_pass = malloc(UREG_SIGN_PASSPHRASE_MAX + 2);
	assert_non_null(long_pass);
	memset(long_pass, 'p', UREG_SIGN_PASSPHRASE_MAX + 1);
	long_pass[UREG_SIGN_PASSPHRASE_MAX + 1] = '\0';
	expect_error(ureg_secret_key_save(&text, sk, long_pass, &fast),
	             UREG_ETOOBIG, "passphrase is 1025 bytes, cap is 1024");
	assert_null(text);
	free(long_pass);

	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
}

static void flip_sk_byte(unsigned char *raw, size_t n)
{
	assert_int_equal(n, 158);
	raw[100] ^= 1; /* inside the secret key, under the checksum */
}

/* What `minisign -G -W` (0.11) writes: no checksum. */
static void zero_checksum(unsigned char *raw, size_t n)
{
	assert_int_equal(n, 158);
	memset(raw + 126, 0, 32);
}

static void zero_checksum_flip_sk(unsigned char *raw, size_t n)
{
	zero_checksum(raw, n);
	raw[100] ^= 1;
}

static void test_corrupt_secret_key(void **state)
{
	static const char line1[] = "untrusted comment: ureg secret key x\n";
	struct {
		const char *name;
		char *text;
		int code;
		const char *message;
	} cases[16];
	const char *b64 = strchr(KAT_SEC, '\n') + 1;
	char *big, *buf;
	size_t i, n = 0, b64_len = strlen(b64) - 1;
	ureg_secret_key *sk = NULL;

	(void)state;
#define ADD(name_, text_, code_, msg_)                                         \
	do {                                                                   \
		cases[n].name = name_;                                         \
		cases[n].text = text_;                                         \
		cases[n].code = code_;                                         \
		cases[n].message = msg_;                                       \
		n++;                                                           \
	} while (0)
	ADD("empty", strdup(""), UREG_EINVALID, "secret key is empty");
	ADD("no comment line", strdup(b64), UREG_EINVALID,
	    "secret key line 1 does not start with \"untrusted comment: \"");
	ADD("comment only", strdup(line1), UREG_EINVALID,
	    "secret key has no line 2");
	buf = calloc(1, 512);
	snprintf(buf, 512, "%s%.*s!%s", line1, 20, b64, b64 + 21);
	ADD("bad base64", buf, UREG_EINVALID,
	    "secret key line 2 is not valid base64");
	buf = calloc(1, 512);
	snprintf(buf, 512, "%s%.*s\n", line1, (int)(b64_len - 4), b64);
	ADD("short", buf, UREG_EINVALID,
	    "secret key line 2 decodes to 156 bytes, expected 158");
	buf = calloc(1, 512);
	snprintf(buf, 512, "%sAAAA%s", line1, b64);
	ADD("long", buf, UREG_EINVALID,
	    "secret key line 2 is 216 characters, expected 212 of base64");
	buf = calloc(1, 512);
	snprintf(buf, 512, "%s%sgarbage\n", line1, b64);
	ADD("trailing line", buf, UREG_EINVALID,
	    "secret key has unexpected content after line 2");
	buf = strdup(KAT_SEC);
	buf[10] = '\0';
	cases[n].name = "nul";
	cases[n].text = buf;
	cases[n].code = UREG_EINVALID;
	cases[n].message = "secret key contains a NUL byte";
	n++;
	ADD("checksum", edit_b64_line(KAT_SEC, 2, flip_sk_byte), UREG_EINVALID,
	    "secret key checksum does not match: the key file is corrupt");
	ADD("no checksum, damaged",
	    edit_b64_line(KAT_SEC, 2, zero_checksum_flip_sk), UREG_EINVALID,
	    "secret key " KAT_KEYID " is inconsistent: its public half does "
	    "not match its seed");
	ADD("no checksum", edit_b64_line(KAT_SEC, 2, zero_checksum), 0, "");
	big = malloc(UREG_SIGN_TEXT_MAX + 2);
	memset(big, 'A', UREG_SIGN_TEXT_MAX + 1);
	big[UREG_SIGN_TEXT_MAX + 1] = '\0';
	ADD("too big", big, UREG_ETOOBIG, "secret key is 65537 bytes, cap is");
	/* accepted: CRLF line ends and trailing blank lines */
	buf = calloc(1, 512);
	snprintf(buf, 512, "%s\r\n%.*s\r\n\n", "untrusted comment: x",
	         (int)b64_len, b64);
	ADD("crlf", buf, 0, "");
	for (i = 0; i < n; i++) {
		size_t len = strlen(cases[i].text);
		int rc;

		if (strcmp(cases[i].name, "nul") == 0)
			len = strlen(KAT_SEC);
		rc = ureg_secret_key_load(&sk, cases[i].text, len, NULL);
		if (cases[i].code == 0 && rc != 0)
			fail_msg("%s: %s", cases[i].name, ureg_error_last());
		if (cases[i].code != 0) {
			if (rc != cases[i].code ||
			    !strstr(ureg_error_last(), cases[i].message))
				fail_msg("%s: got %d \"%s\"", cases[i].name, rc,
				         ureg_error_last());
			assert_null(sk);
		}
		ureg_secret_key_free(sk);
		sk = NULL;
		free(cases[i].text);
	}
#undef ADD
}

/* The key id syntax lockfiles and fetch accept is the one ureg writes. */
static void test_key_id_is_valid(void **state)
{
	static const char *const good[] = {"1", "A", "123456789ABCDEF0",
	                                   "FFFFFFFFFFFFFFFF"};
	static const char *const bad[] = {"",  "0A", "abc", "123456789ABCDEF01",
	                                  "G", "1 ", "-1"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(ureg_sign_key_id_is_valid(good[i]), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ureg_sign_key_id_is_valid(bad[i]), 0);
	assert_int_equal(ureg_sign_key_id_is_valid("0"), 1);
}

static void test_corrupt_public_key(void **state)
{
	static const struct {
		const char *text;
		int code;
		const char *message;
	} cases[] = {
	        {"", UREG_EINVALID, "public key is empty"},
	        {"untrusted comment: minisign public key 1\n", UREG_EINVALID,
	         "public key has no line 2"},
	        {"hello world\n", UREG_EINVALID,
	         "public key line 1 is neither an \"untrusted comment: \" line "
	         "nor a base64 key"},
	        {"untrusted comment: x\n" KAT_PUB_B64 "AAAA\n", UREG_EINVALID,
	         "public key line 2 is 60 characters, expected 56 of base64"},
	        {"untrusted comment: "
	         "x\nRWQBI0VniavNDr5zdELYdhDP3nuek2aSIigIzE/2"
	         "xQ6ztk0DpHKM\n",
	         UREG_EINVALID,
	         "public key line 2 decodes to 39 bytes, expected 42"},
	        {"untrusted comment: x\n" KAT_PUB_B64 "\nmore\n", UREG_EINVALID,
	         "public key has unexpected content after line 2"},
	        {"untrusted comment: "
	         "x\nRWQBI0Vn!avNDr5zdELYdhDP3nuek2aSIigIzE/2"
	         "xQ6ztk0DpHKMeUqs\n",
	         UREG_EINVALID, "public key line 2 is not valid base64"},
	        /* "EW" instead of "Ed" */
	        {"untrusted comment: "
	         "x\nRVcBI0VniavNDr5zdELYdhDP3nuek2aSIigIzE/2"
	         "xQ6ztk0DpHKMeUqs\n",
	         UREG_EINVALID,
	         "unsupported signature algorithm \"EW\" in public key"},
	        /* libsodium 1.0.18 alone decodes 0x80-0xff as '/', which
	         * made these texts of the same key */
	        {"untrusted comment: x\nRWQBI0VniavNDr5zdELYdhDP3nuek2aSIigIzE"
	         "\xe0"
	         "2xQ6ztk0DpHKMeUqs\n",
	         UREG_EINVALID,
	         "public key line 2 is not valid base64: byte 0xe0 at column "
	         "39"},
	        {"RWQBI0VniavNDr5zdELYdhDP3nuek2aSIigIzE\xff"
	         "2xQ6ztk0DpHKMeUqs\n",
	         UREG_EINVALID,
	         "public key line 1 is neither an \"untrusted comment: \" line "
	         "nor a base64 key"},
	        /* accepted */
	        {KAT_PUB, 0, ""},
	        {KAT_PUB_B64, 0, ""},
	        {"untrusted comment: x\r\n" KAT_PUB_B64 "\r\n", 0, ""},
	};
	ureg_public_key *pk = NULL;
	char id[UREG_SIGN_KEYID_STRLEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = ureg_public_key_parse(&pk, cases[i].text,
		                               strlen(cases[i].text));

		if (cases[i].code == 0) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, ureg_error_last());
			ureg_public_key_id(id, pk);
			assert_string_equal(id, KAT_KEYID);
		} else {
			if (rc != cases[i].code ||
			    !strstr(ureg_error_last(), cases[i].message))
				fail_msg("case %zu: got %d \"%s\"", i, rc,
				         ureg_error_last());
			assert_null(pk);
		}
		ureg_public_key_free(pk);
		pk = NULL;
	}
}

static void set_sig_alg(unsigned char *raw, size_t n)
{
	assert_true(n >= 2);
	raw[0] = 'E';
	raw[1] = 'x';
}

static void set_kdf_alg(unsigned char *raw, size_t n)
{
	assert_int_equal(n, 158);
	raw[2] = 'A';
	raw[3] = 'r';
}

static void set_kdf_binary(unsigned char *raw, size_t n)
{
	assert_int_equal(n, 158);
	raw[2] = 1;
	raw[3] = 0xfe;
}

static void set_chk_alg(unsigned char *raw, size_t n)
{
	assert_int_equal(n, 158);
	raw[4] = 'B';
	raw[5] = '3';
}

static void test_unknown_algorithm(void **state)
{
	static const struct {
		void (*edit)(unsigned char *, size_t);
		const char *message;
	} sk_cases[] = {
	        {set_sig_alg,
	         "unsupported signature algorithm \"Ex\" in secret key"},
	        {set_kdf_alg,
	         "unsupported key derivation algorithm \"Ar\" in secret key"},
	        {set_kdf_binary,
	         "unsupported key derivation algorithm 0x01fe in secret key"},
	        {set_chk_alg,
	         "unsupported checksum algorithm \"B3\" in secret key"},
	};
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sk_cases) / sizeof(sk_cases[0]); i++) {
		text = edit_b64_line(KAT_SEC, 2, sk_cases[i].edit);
		expect_error(
		        ureg_secret_key_load(&sk, text, strlen(text), NULL),
		        UREG_EINVALID, sk_cases[i].message);
		expect_error(
		        ureg_secret_key_needs_passphrase(text, strlen(text)),
		        UREG_EINVALID, sk_cases[i].message);
		assert_null(sk);
		free(text);
	}
	text = edit_b64_line(KAT_PUB, 2, set_sig_alg);
	expect_error(ureg_public_key_parse(&pk, text, strlen(text)),
	             UREG_EINVALID,
	             "unsupported signature algorithm \"Ex\" in public key");
	free(text);

	kat_pair(&sk, &pk);
	text = edit_b64_line(KAT_SIG, 2, set_sig_alg);
	expect_error(verify_text(pk, KAT_MSG, text, NULL), UREG_EINVALID,
	             "unsupported signature algorithm \"Ex\" in signature");
	free(text);
	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
}

static void test_truncated_signature(void **state)
{
	static const struct {
		const char *upto; /* cut right after this text... */
		int extra;        /* ...plus this many bytes */
		const char *message;
	} cases[] = {
	        {"untrusted comm", 0, "signature is truncated in line 1"},
	        {"untrusted comment: kat\n", 0,
	         "signature is truncated: 1 of 4 lines"},
	        {"untrusted comment: kat\n", 30,
	         "signature is truncated in line 2"},
	        {"73QwM=\n", 0, "signature is truncated: 2 of 4 lines"},
	        {"73QwM=\ntrusted co", 0, "signature is truncated in line 3"},
	        {KAT_TC "\n", 0, "signature is truncated: 3 of 4 lines"},
	        {KAT_TC "\n", 87, "signature is truncated in line 4"},
	};
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL;
	const size_t len = strlen(KAT_SIG);
	size_t i, cut;
	int rc;

	(void)state;
	kat_pair(&sk, &pk);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *at = strstr(KAT_SIG, cases[i].upto);

		assert_non_null(at);
		cut = (size_t)(at - KAT_SIG) + strlen(cases[i].upto) +
		      (size_t)cases[i].extra;
		rc = ureg_sign_verify(pk, KAT_MSG, strlen(KAT_MSG), KAT_SIG,
		                      cut, NULL);
		if (rc != UREG_EINVALID ||
		    !strstr(ureg_error_last(), cases[i].message))
			fail_msg("cut at %zu: got %d \"%s\", want \"%s\"", cut,
			         rc, ureg_error_last(), cases[i].message);
	}
	/* every shorter prefix is refused as malformed; only the final
	 * newline may go */
	for (cut = 0; cut < len - 1; cut++) {
		rc = ureg_sign_verify(pk, KAT_MSG, strlen(KAT_MSG), KAT_SIG,
		                      cut, NULL);
		if (rc != UREG_EINVALID)
			fail_msg("prefix of %zu bytes: got %d \"%s\"", cut, rc,
			         ureg_error_last());
	}
	assert_int_equal(ureg_sign_verify(pk, KAT_MSG, strlen(KAT_MSG), KAT_SIG,
	                                  len - 1, NULL),
	                 0);
	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
}

static void test_signature_text_refusals(void **state)
{
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL;
	char *text, *big;
	size_t n;

	(void)state;
	kat_pair(&sk, &pk);
	n = strlen(KAT_SIG) + 16;
	text = malloc(n);
	snprintf(text, n, "%sextra\n", KAT_SIG);
	expect_error(verify_text(pk, KAT_MSG, text, NULL), UREG_EINVALID,
	             "signature has unexpected content after line 4");
	free(text);
	expect_error(verify_text(pk, KAT_MSG, "hello\n", NULL), UREG_EINVALID,
	             "signature line 1 does not start with");
	text = strdup(KAT_SIG);
	memcpy(strstr(text, "trusted comment: name"), "Trusted", 7);
	expect_error(verify_text(pk, KAT_MSG, text, NULL), UREG_EINVALID,
	             "signature line 3 does not start with \"trusted comment: "
	             "\"");
	free(text);
	expect_error(ureg_sign_verify(pk, KAT_MSG, strlen(KAT_MSG), KAT_SIG, 0,
	                              NULL),
	             UREG_EINVALID, "signature is empty");
	/* a byte 0x80-0xff in place of a '/' (libsodium 1.0.18 alone reads
	 * it as '/', so the signature verified) */
	text = strdup(KAT_LEGACY_SIG);
	*strchr(strchr(text, '\n') + 1, '/') = '\xff';
	expect_error(verify_text(pk, KAT_MSG, text, NULL), UREG_EINVALID,
	             "signature line 2 is not valid base64: byte 0xff");
	free(text);
	text = strdup(KAT_LEGACY_SIG);
	*strchr(strstr(text, "trusted comment: legacy kat\n") + 28, '/') =
	        '\xff';
	expect_error(verify_text(pk, KAT_MSG, text, NULL), UREG_EINVALID,
	             "signature line 4 is not valid base64: byte 0xff");
	free(text);
	big = malloc(UREG_SIGN_TEXT_MAX + 2);
	memset(big, '\n', UREG_SIGN_TEXT_MAX + 1);
	expect_error(ureg_sign_verify(pk, KAT_MSG, strlen(KAT_MSG), big,
	                              UREG_SIGN_TEXT_MAX + 1, NULL),
	             UREG_ETOOBIG, "signature is 65537 bytes, cap is 65536");
	free(big);
	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
}

static void test_comments(void **state)
{
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL;
	char *sig = NULL, *tc = NULL, *long_tc;

	(void)state;
	kat_pair(&sk, &pk);
	expect_error(ureg_sign(&sig, sk, "m", 1, "a\nb", NULL), UREG_EINVALID,
	             "trusted comment \"a\nb\" contains a line break");
	expect_error(ureg_sign(&sig, sk, "m", 1, "ok", "u\rv"), UREG_EINVALID,
	             "untrusted comment \"u\rv\" contains a line break");
	assert_null(sig);

	long_tc = malloc(UREG_SIGN_COMMENT_MAX + 2);
	memset(long_tc, 'c', UREG_SIGN_COMMENT_MAX + 1);
	long_tc[UREG_SIGN_COMMENT_MAX + 1] = '\0';
	expect_error(ureg_sign(&sig, sk, "m", 1, long_tc, NULL), UREG_ETOOBIG,
	             "trusted comment is 1025 bytes, cap is 1024");
	expect_error(ureg_sign(&sig, sk, "m", 1, "ok", long_tc), UREG_ETOOBIG,
	             "untrusted comment is 1025 bytes, cap is 1024");
	/* exactly at the cap is fine, and comes back intact */
	long_tc[UREG_SIGN_COMMENT_MAX] = '\0';
	assert_int_equal(ureg_sign(&sig, sk, "m", 1, long_tc, long_tc), 0);
	assert_int_equal(verify_text(pk, "m", sig, &tc), 0);
	assert_string_equal(tc, long_tc);
	free(tc);
	free(sig);
	free(long_tc);
	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
}

/* --- interoperability with minisign -------------------------------------- */

/* ureg signs, minisign verifies; minisign signs with keys ureg wrote. */
static void test_minisign_verifies_ureg(void **state)
{
	const char *verify[] = {MINISIGN,      "-Vm", "msg",     "-x",
	                        "msg.minisig", "-p",  "key.pub", NULL};
	const char *verify_hashed[] = {MINISIGN, "-V", "-H",          "-m",
	                               "msg",    "-x", "msg.minisig", "-P",
	                               NULL,     NULL};
	const char *sign_kat[] = {MINISIGN, "-S",      "-s", "kat.key",
	                          "-m",     "kat.msg", "-x", "kat.msg.minisig",
	                          "-t",     KAT_TC,    "-c", "kat",
	                          NULL};
	const char *sign_enc[] = {MINISIGN, "-S",          "-s", "enc.key",
	                          "-m",     "msg",         "-x", "enc.minisig",
	                          "-t",     "by minisign", NULL};
	ureg_secret_key *sk = NULL, *kat_sk = NULL;
	ureg_public_key *pk = NULL, *kat_pk = NULL;
	char b64[UREG_SIGN_PUBKEY_B64LEN + 1];
	char *dir, *text, *sig, *out, *tc = NULL;
	const char *msg = "a manifest\n";

	(void)state;
	need_minisign();
	dir = test_tmpdir("ureg-sign");
	assert_int_equal(ureg_sign_keygen(&sk, &pk), 0);
	assert_int_equal(ureg_public_key_format(&text, pk), 0);
	write_file(dir, "key.pub", text, strlen(text));
	free(text);
	write_file(dir, "msg", msg, strlen(msg));
	sig = sign_text(sk, msg, "name:pkg\tversion:1.2.3");
	write_file(dir, "msg.minisig", sig, strlen(sig));
	free(sig);
	if (run_in(dir, NULL, &out, verify) != 0)
		fail_msg("minisign -V refused ureg's signature: %s", out);
	assert_non_null(
	        strstr(out, "Trusted comment: name:pkg\tversion:1.2.3"));
	free(out);
	/* -H insists on a prehashed signature; -P takes the bare key */
	ureg_public_key_base64(b64, pk);
	verify_hashed[8] = b64;
	assert_int_equal(run_in(dir, NULL, NULL, verify_hashed), 0);
	/* the harness can fail: minisign refuses a changed message */
	write_file(dir, "msg", "b manifest\n", 11);
	assert_int_not_equal(run_in(dir, NULL, NULL, verify), 0);
	write_file(dir, "msg", msg, strlen(msg));

	/* minisign signing with ureg's unencrypted key writes exactly what
	 * ureg writes */
	kat_pair(&kat_sk, &kat_pk);
	write_file(dir, "kat.key", KAT_SEC, strlen(KAT_SEC));
	write_file(dir, "kat.msg", KAT_MSG, strlen(KAT_MSG));
	if (run_in(dir, NULL, &out, sign_kat) != 0)
		fail_msg("minisign -S with ureg's key failed: %s", out);
	free(out);
	out = read_file(dir, "kat.msg.minisig");
	assert_string_equal(out, KAT_SIG);
	free(out);

	/* minisign decrypts a key ureg encrypted (password on stdin) */
	assert_int_equal(ureg_secret_key_save(&text, sk, "s3cret", &fast), 0);
	write_file(dir, "enc.key", text, strlen(text));
	ureg_secret_key_text_free(text);
	if (run_in(dir, "s3cret\n", &out, sign_enc) != 0)
		fail_msg("minisign -S with ureg's encrypted key failed: %s",
		         out);
	free(out);
	out = read_file(dir, "enc.minisig");
	assert_int_equal(verify_text(pk, msg, out, &tc), 0);
	assert_string_equal(tc, "by minisign");
	free(tc);
	free(out);
	/* and refuses a wrong password, like ureg */
	assert_int_not_equal(run_in(dir, "wrong\n", NULL, sign_enc), 0);

	ureg_secret_key_free(sk);
	ureg_secret_key_free(kat_sk);
	ureg_public_key_free(pk);
	ureg_public_key_free(kat_pk);
	test_rmtree(dir);
	free(dir);
}

/* minisign makes the keys and signs; ureg loads and verifies. */
static void test_ureg_reads_minisign(void **state)
{
	const char *keygen[] = {MINISIGN, "-G", "-W",    "-p",
	                        "m.pub",  "-s", "m.key", NULL};
	const char *sign[] = {MINISIGN, "-S",        "-s", "m.key",
	                      "-m",     "msg",       "-t", "from minisign",
	                      "-c",     "untrusted", NULL};
	const char *sign_legacy[] = {MINISIGN,         "-S", "-l",     "-s",
	                             "m.key",          "-m", "msg",    "-x",
	                             "legacy.minisig", "-t", "legacy", NULL};
	const char *verify[] = {MINISIGN,       "-Vm", "msg",   "-x",
	                        "ureg.minisig", "-p",  "m.pub", NULL};
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL, *half = NULL;
	char id[UREG_SIGN_KEYID_STRLEN + 1],
	        file_id[UREG_SIGN_KEYID_STRLEN + 1];
	char *dir, *text, *out, *tc = NULL;
	const char *msg = "signed by minisign\n";

	(void)state;
	need_minisign();
	dir = test_tmpdir("ureg-sign");
	write_file(dir, "msg", msg, strlen(msg));
	if (run_in(dir, NULL, &out, keygen) != 0)
		fail_msg("minisign -G -W failed: %s", out);
	free(out);

	text = read_file(dir, "m.pub");
	assert_int_equal(ureg_public_key_parse(&pk, text, strlen(text)), 0);
	pub_file_id(file_id, text);
	ureg_public_key_id(id, pk);
	assert_string_equal(id, file_id);
	free(text);
	text = read_file(dir, "m.key");
	assert_int_equal(ureg_secret_key_needs_passphrase(text, strlen(text)),
	                 0);
	assert_int_equal(ureg_secret_key_load(&sk, text, strlen(text), NULL),
	                 0);
	free(text);
	assert_int_equal(ureg_secret_key_public(&half, sk), 0);
	assert_true(ureg_public_key_equal(half, pk));

	if (run_in(dir, NULL, &out, sign) != 0)
		fail_msg("minisign -S failed: %s", out);
	free(out);
	text = read_file(dir, "msg.minisig");
	assert_int_equal(verify_text(pk, msg, text, &tc), 0);
	assert_string_equal(tc, "from minisign");
	free(tc);
	expect_error(verify_text(pk, "signed by minisigN\n", text, NULL),
	             UREG_ESIGNATURE, "signature does not verify: the content");
	free(text);

	if (run_in(dir, NULL, &out, sign_legacy) != 0)
		fail_msg("minisign -S -l failed: %s", out);
	free(out);
	text = read_file(dir, "legacy.minisig");
	assert_non_null(strstr(text, "\nRW")); /* "Ed", not "ED" (RU) */
	assert_int_equal(verify_text(pk, msg, text, &tc), 0);
	assert_string_equal(tc, "legacy");
	free(tc);
	free(text);

	/* minisign's own key, used by ureg, verified by minisign */
	text = sign_text(sk, msg, "ureg with a minisign key");
	write_file(dir, "ureg.minisig", text, strlen(text));
	free(text);
	if (run_in(dir, NULL, &out, verify) != 0)
		fail_msg("minisign -V failed: %s", out);
	assert_non_null(
	        strstr(out, "Trusted comment: ureg with a minisign key"));
	free(out);

	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
	ureg_public_key_free(half);
	test_rmtree(dir);
	free(dir);
}

/* An encrypted minisign key, with minisign's own scrypt limits (slow: about
 * a second of CPU and 1 GiB for each of minisign and ureg). */
static void test_ureg_reads_minisign_encrypted(void **state)
{
	const char *keygen[] = {MINISIGN, "-G",    "-p", "e.pub",
	                        "-s",     "e.key", NULL};
	ureg_secret_key *sk = NULL;
	ureg_public_key *pk = NULL, *half = NULL;
	char *dir, *text, *out;

	(void)state;
	need_minisign();
	dir = test_tmpdir("ureg-sign");
	/* minisign reads the password twice from stdin when it is no tty */
	if (run_in(dir, "hunter2\nhunter2\n", &out, keygen) != 0)
		fail_msg("minisign -G failed: %s", out);
	free(out);
	text = read_file(dir, "e.pub");
	assert_int_equal(ureg_public_key_parse(&pk, text, strlen(text)), 0);
	free(text);
	text = read_file(dir, "e.key");
	assert_int_equal(ureg_secret_key_needs_passphrase(text, strlen(text)),
	                 1);
	expect_error(ureg_secret_key_load(&sk, text, strlen(text), NULL),
	             UREG_EINVALID, "secret key is encrypted: a passphrase");
	assert_int_equal(
	        ureg_secret_key_load(&sk, text, strlen(text), "hunter2"), 0);
	assert_int_equal(ureg_secret_key_public(&half, sk), 0);
	assert_true(ureg_public_key_equal(half, pk));
	free(text);

	ureg_secret_key_free(sk);
	ureg_public_key_free(pk);
	ureg_public_key_free(half);
	test_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kat_keys),
	        cmocka_unit_test(test_kat_signature),
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_tamper),
	        cmocka_unit_test(test_passphrase),
	        cmocka_unit_test(test_corrupt_secret_key),
	        cmocka_unit_test(test_corrupt_public_key),
	        cmocka_unit_test(test_unknown_algorithm),
	        cmocka_unit_test(test_truncated_signature),
	        cmocka_unit_test(test_signature_text_refusals),
	        cmocka_unit_test(test_comments),
	        cmocka_unit_test(test_key_id_is_valid),
	        cmocka_unit_test(test_minisign_verifies_ureg),
	        cmocka_unit_test(test_ureg_reads_minisign),
	        cmocka_unit_test(test_ureg_reads_minisign_encrypted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* minisign-compatible Ed25519 keys and signatures; the only user of
 * libsodium in ureg. Formats are described in docs/internals/sign.md. */
#include "common/sign.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGALG "Ed"
#define SIGALG_HASHED "ED"
#define KDFALG "Sc"
#define CHKALG "B2"
#define COMMENT_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define DEFAULT_UNTRUSTED "signature from ureg secret key"
#define SK_COMMENT "ureg secret key "

enum {
	KEYID_BYTES = UREG_SIGN_KEYIDBYTES,
	PK_RAW = 32,
	SK_RAW = 64,
	SIG_RAW = 64,
	CHK_BYTES = 32,
	SALT_BYTES = 32,
	PREHASH_BYTES = 64,
	/* "Ed" || key id || public key */
	PK_BYTES = 2 + KEYID_BYTES + PK_RAW,
	/* "ED"/"Ed" || key id || signature */
	SIG_BYTES = 2 + KEYID_BYTES + SIG_RAW,
	/* key id || secret key || checksum: the part scrypt's stream covers */
	SK_PAYLOAD = KEYID_BYTES + SK_RAW + CHK_BYTES,
	SK_OFF_KDF = 2,
	SK_OFF_CHK = 4,
	SK_OFF_SALT = 6,
	SK_OFF_OPS = SK_OFF_SALT + SALT_BYTES,
	SK_OFF_MEM = SK_OFF_OPS + 8,
	SK_OFF_PAYLOAD = SK_OFF_MEM + 8,
	SK_BYTES = SK_OFF_PAYLOAD + SK_PAYLOAD,
};

_Static_assert(PK_RAW == crypto_sign_PUBLICKEYBYTES, "ed25519 pk size");
_Static_assert(SK_RAW == crypto_sign_SECRETKEYBYTES, "ed25519 sk size");
_Static_assert(SIG_RAW == crypto_sign_BYTES, "ed25519 signature size");
_Static_assert(UREG_SIGN_SEEDBYTES == crypto_sign_SEEDBYTES, "seed size");
_Static_assert(SALT_BYTES == crypto_pwhash_scryptsalsa208sha256_SALTBYTES,
               "scrypt salt size");
_Static_assert(UREG_KDF_OPSLIMIT_DEFAULT ==
                       crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE,
               "minisign's opslimit");
_Static_assert(UREG_KDF_MEMLIMIT_DEFAULT ==
                       crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE,
               "minisign's memlimit");
_Static_assert(UREG_KDF_OPSLIMIT_MIN ==
                       crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN,
               "scrypt minimum opslimit");
_Static_assert(UREG_KDF_MEMLIMIT_MIN ==
                       crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN,
               "scrypt minimum memlimit");
_Static_assert(UREG_SIGN_PUBKEY_B64LEN + 1 ==
                       sodium_base64_ENCODED_LEN(
                               PK_BYTES, sodium_base64_VARIANT_ORIGINAL),
               "public key base64 length");

/* Lives in sodium_malloc memory. */
struct ureg_secret_key {
	unsigned char key_id[KEYID_BYTES];
	unsigned char sk[SK_RAW];
};

struct ureg_public_key {
	unsigned char key_id[KEYID_BYTES];
	unsigned char pk[PK_RAW];
};

/* A parsed signature text; `trusted` points into the text. */
struct sig_parts {
	unsigned char raw[SIG_BYTES];
	unsigned char global[SIG_RAW];
	const char *trusted;
	size_t trusted_len;
};

struct line {
	const char *p;
	size_t len;
	int terminated; /* ended with LF (not by the end of the text) */
};

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status = -1;

static void sign_init_once(void)
{
	sodium_status = sodium_init() < 0 ? -1 : 0;
}

static int sign_init(void)
{
	if (pthread_once(&sodium_once, sign_init_once) != 0 ||
	    sodium_status < 0)
		return ureg_error_set(UREG_EIO,
		                      "libsodium failed to initialise");
	return 0;
}

static uint64_t sign_le64_load(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void sign_le64_store(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static void sign_key_id_hex(char out[UREG_SIGN_KEYID_STRLEN + 1],
                            const unsigned char *key_id)
{
	snprintf(out, UREG_SIGN_KEYID_STRLEN + 1, "%" PRIX64,
	         sign_le64_load(key_id));
}

/* An algorithm tag for messages: "Ed" when printable, else 0x4564. */
static void sign_alg_name(char out[16], const unsigned char *alg)
{
	if (alg[0] > 0x20 && alg[0] < 0x7f && alg[0] != '"' && alg[0] != '\\' &&
	    alg[1] > 0x20 && alg[1] < 0x7f && alg[1] != '"' && alg[1] != '\\')
		snprintf(out, 16, "\"%c%c\"", alg[0], alg[1]);
	else
		snprintf(out, 16, "0x%02x%02x", alg[0], alg[1]);
}

/* --- text structure ------------------------------------------------------ */

static int sign_check_text(const char *text, size_t len, const char *what)
{
	if (len > UREG_SIGN_TEXT_MAX)
		return ureg_error_set(UREG_ETOOBIG,
		                      "%s is %zu bytes, cap is %d", what, len,
		                      UREG_SIGN_TEXT_MAX);
	if (len == 0)
		return ureg_error_set(UREG_EINVALID, "%s is empty", what);
	if (memchr(text, '\0', len))
		return ureg_error_set(UREG_EINVALID, "%s contains a NUL byte",
		                      what);
	return 0;
}

/* Next line from *pos; a CR before the LF is dropped. 0 at the end. */
static int sign_next_line(struct line *out, const char *text, size_t len,
                          size_t *pos)
{
	const char *nl;
	size_t n;

	if (*pos >= len)
		return 0;
	out->p = text + *pos;
	nl = memchr(out->p, '\n', len - *pos);
	n = nl ? (size_t)(nl - out->p) : len - *pos;
	*pos += n + (nl ? 1 : 0);
	out->terminated = nl != NULL;
	if (n > 0 && out->p[n - 1] == '\r')
		n--;
	out->len = n;
	return 1;
}

/* Only blank lines may follow the last line a format has. */
static int sign_rest_blank(const char *text, size_t len, size_t pos)
{
	for (; pos < len; pos++)
		if (text[pos] != '\n' && text[pos] != '\r' &&
		    text[pos] != ' ' && text[pos] != '\t')
			return 0;
	return 1;
}

static int sign_has_prefix(const struct line *l, const char *prefix)
{
	size_t n = strlen(prefix);

	return l->len >= n && memcmp(l->p, prefix, n) == 0;
}

/* A line cut inside its prefix at the end of the text. */
static int sign_cut_prefix(const struct line *l, const char *prefix)
{
	return !l->terminated && l->len < strlen(prefix) &&
	       memcmp(l->p, prefix, l->len) == 0;
}

static size_t sign_b64_len(size_t bin_len)
{
	return sodium_base64_ENCODED_LEN(bin_len,
	                                 sodium_base64_VARIANT_ORIGINAL) -
	       1;
}

/* Offset of the first byte outside the base64 alphabet, or `len`. The
 * decoder of libsodium 1.0.18 reads bytes 0x80-0xff as '/', so without this
 * one key or signature would have many texts. */
static size_t sign_b64_invalid(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '+' ||
		      p[i] == '/' || p[i] == '='))
			break;
	return i;
}

/* Decodes a base64 line into exactly `want` bytes; `bin` holds `want`+3. */
static int sign_decode_line(unsigned char *bin, size_t want,
                            const struct line *l, const char *what, int lineno)
{
	size_t got = 0, bad;

	if (l->len > sign_b64_len(want))
		return ureg_error_set(UREG_EINVALID,
		                      "%s line %d is %zu characters, expected "
		                      "%zu of base64",
		                      what, lineno, l->len, sign_b64_len(want));
	if ((bad = sign_b64_invalid(l->p, l->len)) < l->len)
		return ureg_error_set(
		        UREG_EINVALID,
		        "%s line %d is not valid base64: byte 0x%02x at "
		        "column %zu",
		        what, lineno, (unsigned char)l->p[bad], bad + 1);
	if (sodium_base642bin(bin, want + 3, l->p, l->len, NULL, &got, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return ureg_error_set(UREG_EINVALID,
		                      "%s line %d is not valid base64", what,
		                      lineno);
	if (got != want)
		return ureg_error_set(
		        UREG_EINVALID,
		        "%s line %d decodes to %zu bytes, expected "
		        "%zu",
		        what, lineno, got, want);
	return 0;
}

static int sign_check_comment(const char *comment, const char *what)
{
	size_t n = strlen(comment);

	if (n > UREG_SIGN_COMMENT_MAX)
		return ureg_error_set(UREG_ETOOBIG,
		                      "%s is %zu bytes, cap is %d", what, n,
		                      UREG_SIGN_COMMENT_MAX);
	if (strpbrk(comment, "\r\n"))
		return ureg_error_set(UREG_EINVALID,
		                      "%s \"%.40s\" contains a line break",
		                      what, comment);
	return 0;
}

/* --- keys ---------------------------------------------------------------- */

static int sign_pair_alloc(ureg_secret_key **sk, ureg_public_key **pk)
{
	*sk = sodium_malloc(sizeof(**sk));
	*pk = calloc(1, sizeof(**pk));
	if (!*sk || !*pk) {
		ureg_secret_key_free(*sk);
		ureg_public_key_free(*pk);
		*sk = NULL;
		*pk = NULL;
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate a key pair");
	}
	return 0;
}

int ureg_sign_keygen(ureg_secret_key **sk, ureg_public_key **pk)
{
	int error;

	*sk = NULL;
	*pk = NULL;
	if ((error = sign_init()) < 0 || (error = sign_pair_alloc(sk, pk)) < 0)
		return error;
	randombytes_buf((*sk)->key_id, KEYID_BYTES);
	memcpy((*pk)->key_id, (*sk)->key_id, KEYID_BYTES);
	crypto_sign_keypair((*pk)->pk, (*sk)->sk);
	return 0;
}

int ureg_sign_keygen_seeded(ureg_secret_key **sk, ureg_public_key **pk,
                            const unsigned char seed[UREG_SIGN_SEEDBYTES],
                            const unsigned char key_id[UREG_SIGN_KEYIDBYTES])
{
	int error;

	*sk = NULL;
	*pk = NULL;
	if ((error = sign_init()) < 0 || (error = sign_pair_alloc(sk, pk)) < 0)
		return error;
	memcpy((*sk)->key_id, key_id, KEYID_BYTES);
	memcpy((*pk)->key_id, key_id, KEYID_BYTES);
	crypto_sign_seed_keypair((*pk)->pk, (*sk)->sk, seed);
	return 0;
}

void ureg_secret_key_free(ureg_secret_key *sk)
{
	if (sk)
		sodium_free(sk); /* wipes */
}

void ureg_public_key_free(ureg_public_key *pk)
{
	free(pk);
}

void ureg_public_key_id(char out[UREG_SIGN_KEYID_STRLEN + 1],
                        const ureg_public_key *pk)
{
	sign_key_id_hex(out, pk->key_id);
}

void ureg_secret_key_id(char out[UREG_SIGN_KEYID_STRLEN + 1],
                        const ureg_secret_key *sk)
{
	sign_key_id_hex(out, sk->key_id);
}

int ureg_sign_key_id_is_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return i >= 1 && i <= UREG_SIGN_KEYID_STRLEN && !(i > 1 && s[0] == '0');
}

int ureg_public_key_equal(const ureg_public_key *a, const ureg_public_key *b)
{
	return memcmp(a->key_id, b->key_id, KEYID_BYTES) == 0 &&
	       memcmp(a->pk, b->pk, PK_RAW) == 0;
}

int ureg_secret_key_public(ureg_public_key **out, const ureg_secret_key *sk)
{
	ureg_public_key *pk = calloc(1, sizeof(*pk));

	*out = NULL;
	if (!pk)
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate a public key");
	memcpy(pk->key_id, sk->key_id, KEYID_BYTES);
	/* An Ed25519 secret key is seed || public key. */
	memcpy(pk->pk, sk->sk + 32, PK_RAW);
	*out = pk;
	return 0;
}

void ureg_public_key_base64(char out[UREG_SIGN_PUBKEY_B64LEN + 1],
                            const ureg_public_key *pk)
{
	unsigned char raw[PK_BYTES];

	memcpy(raw, SIGALG, 2);
	memcpy(raw + 2, pk->key_id, KEYID_BYTES);
	memcpy(raw + 2 + KEYID_BYTES, pk->pk, PK_RAW);
	sodium_bin2base64(out, UREG_SIGN_PUBKEY_B64LEN + 1, raw, sizeof(raw),
	                  sodium_base64_VARIANT_ORIGINAL);
}

int ureg_public_key_format(char **out_text, const ureg_public_key *pk)
{
	char id[UREG_SIGN_KEYID_STRLEN + 1];
	char b64[UREG_SIGN_PUBKEY_B64LEN + 1];
	size_t n;

	*out_text = NULL;
	ureg_public_key_id(id, pk);
	ureg_public_key_base64(b64, pk);
	n = strlen(COMMENT_PREFIX "minisign public key \n\n") + strlen(id) +
	    strlen(b64) + 1;
	if (!(*out_text = malloc(n)))
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate a public key text");
	snprintf(*out_text, n, COMMENT_PREFIX "minisign public key %s\n%s\n",
	         id, b64);
	return 0;
}

int ureg_public_key_parse(ureg_public_key **out, const char *text, size_t len)
{
	unsigned char raw[PK_BYTES + 3];
	struct line l;
	size_t pos = 0;
	int lineno = 1, error;
	ureg_public_key *pk = NULL;
	char alg[16];

	*out = NULL;
	if ((error = sign_init()) < 0 ||
	    (error = sign_check_text(text, len, "public key")) < 0)
		return error;
	if (!sign_next_line(&l, text, len, &pos))
		return ureg_error_set(UREG_EINVALID, "public key is empty");
	if (sign_has_prefix(&l, COMMENT_PREFIX)) {
		if (l.len - strlen(COMMENT_PREFIX) > UREG_SIGN_COMMENT_MAX)
			return ureg_error_set(UREG_ETOOBIG,
			                      "public key comment is %zu "
			                      "bytes, cap is %d",
			                      l.len - strlen(COMMENT_PREFIX),
			                      UREG_SIGN_COMMENT_MAX);
		lineno = 2;
		if (!sign_next_line(&l, text, len, &pos))
			return ureg_error_set(UREG_EINVALID,
			                      "public key has no line 2 (the "
			                      "base64 key)");
	} else if (sign_b64_invalid(l.p, l.len) < l.len ||
	           sodium_base642bin(raw, sizeof(raw), l.p, l.len, NULL, NULL,
	                             NULL,
	                             sodium_base64_VARIANT_ORIGINAL) != 0) {
		return ureg_error_set(UREG_EINVALID,
		                      "public key line 1 is neither an "
		                      "\"" COMMENT_PREFIX "\" line nor a "
		                      "base64 key");
	}
	if ((error = sign_decode_line(raw, PK_BYTES, &l, "public key",
	                              lineno)) < 0)
		return error;
	if (!sign_rest_blank(text, len, pos))
		return ureg_error_set(UREG_EINVALID,
		                      "public key has unexpected content after "
		                      "line %d",
		                      lineno);
	if (memcmp(raw, SIGALG, 2) != 0) {
		sign_alg_name(alg, raw);
		return ureg_error_set(UREG_EINVALID,
		                      "unsupported signature algorithm %s in "
		                      "public key",
		                      alg);
	}
	if (!(pk = calloc(1, sizeof(*pk))))
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate a public key");
	memcpy(pk->key_id, raw + 2, KEYID_BYTES);
	memcpy(pk->pk, raw + 2 + KEYID_BYTES, PK_RAW);
	*out = pk;
	return 0;
}

/* BLAKE2b-256("Ed" || key id || secret key), the secret key's checksum. */
static void sign_sk_checksum(unsigned char out[CHK_BYTES],
                             const unsigned char *key_id,
                             const unsigned char *sk)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, CHK_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)SIGALG, 2);
	crypto_generichash_update(&st, key_id, KEYID_BYTES);
	crypto_generichash_update(&st, sk, SK_RAW);
	crypto_generichash_final(&st, out, CHK_BYTES);
	sodium_memzero(&st, sizeof(st));
}

/* XORs the payload of a raw secret key with scrypt(passphrase). */
static int sign_sk_crypt(unsigned char *raw, const char *passphrase)
{
	unsigned char *stream = NULL;
	uint64_t ops = sign_le64_load(raw + SK_OFF_OPS);
	uint64_t mem = sign_le64_load(raw + SK_OFF_MEM);
	size_t i, n = strlen(passphrase);
	int error = 0;

	if (n > UREG_SIGN_PASSPHRASE_MAX)
		return ureg_error_set(UREG_ETOOBIG,
		                      "passphrase is %zu bytes, cap is %d", n,
		                      UREG_SIGN_PASSPHRASE_MAX);
	if (!(stream = sodium_malloc(SK_PAYLOAD)))
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate secure memory");
	if (crypto_pwhash_scryptsalsa208sha256(
	            stream, SK_PAYLOAD, passphrase, n, raw + SK_OFF_SALT,
	            (unsigned long long)ops, (size_t)mem) != 0) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "scrypt failed to derive a key with "
		                       "opslimit %" PRIu64
		                       " and memlimit %" PRIu64,
		                       ops, mem);
		goto done;
	}
	for (i = 0; i < SK_PAYLOAD; i++)
		raw[SK_OFF_PAYLOAD + i] ^= stream[i];
done:
	sodium_free(stream);
	return error;
}

int ureg_secret_key_save(char **out_text, const ureg_secret_key *sk,
                         const char *passphrase, const ureg_kdf_limits *limits)
{
	static const ureg_kdf_limits defaults = UREG_KDF_LIMITS_INIT;
	unsigned char *raw = NULL;
	char *b64 = NULL, *text = NULL;
	char id[UREG_SIGN_KEYID_STRLEN + 1];
	size_t b64_size = sign_b64_len(SK_BYTES) + 1, n;
	int error;

	*out_text = NULL;
	if (!limits)
		limits = &defaults;
	if ((error = sign_init()) < 0)
		return error;
	if (passphrase && !*passphrase)
		return ureg_error_set(UREG_EINVALID,
		                      "empty passphrase: pass none for an "
		                      "unencrypted key");
	if (passphrase && (limits->opslimit < UREG_KDF_OPSLIMIT_MIN ||
	                   limits->opslimit > UREG_KDF_OPSLIMIT_MAX ||
	                   limits->memlimit < UREG_KDF_MEMLIMIT_MIN ||
	                   limits->memlimit > UREG_KDF_MEMLIMIT_MAX))
		return ureg_error_set(
		        UREG_EINVALID,
		        "scrypt limits %" PRIu64 "/%" PRIu64 " are outside "
		        "%" PRIu64 "..%" PRIu64 "/%" PRIu64 "..%" PRIu64,
		        limits->opslimit, limits->memlimit,
		        UREG_KDF_OPSLIMIT_MIN, UREG_KDF_OPSLIMIT_MAX,
		        UREG_KDF_MEMLIMIT_MIN, UREG_KDF_MEMLIMIT_MAX);
	if (!(raw = sodium_malloc(SK_BYTES)) ||
	    !(b64 = sodium_malloc(b64_size))) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "cannot allocate secure memory");
		goto done;
	}
	memset(raw, 0, SK_BYTES);
	memcpy(raw, SIGALG, 2);
	memcpy(raw + SK_OFF_CHK, CHKALG, 2);
	memcpy(raw + SK_OFF_PAYLOAD, sk->key_id, KEYID_BYTES);
	memcpy(raw + SK_OFF_PAYLOAD + KEYID_BYTES, sk->sk, SK_RAW);
	sign_sk_checksum(raw + SK_OFF_PAYLOAD + KEYID_BYTES + SK_RAW,
	                 sk->key_id, sk->sk);
	if (passphrase) {
		/* unencrypted keys keep kdf "\0\0", a zero salt and limits */
		memcpy(raw + SK_OFF_KDF, KDFALG, 2);
		randombytes_buf(raw + SK_OFF_SALT, SALT_BYTES);
		sign_le64_store(raw + SK_OFF_OPS, limits->opslimit);
		sign_le64_store(raw + SK_OFF_MEM, limits->memlimit);
		if ((error = sign_sk_crypt(raw, passphrase)) < 0)
			goto done;
	}
	sodium_bin2base64(b64, b64_size, raw, SK_BYTES,
	                  sodium_base64_VARIANT_ORIGINAL);
	ureg_secret_key_id(id, sk);
	n = strlen(COMMENT_PREFIX SK_COMMENT "\n\n") + strlen(id) +
	    strlen(b64) + 1;
	if (!(text = malloc(n))) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "cannot allocate a secret key text");
		goto done;
	}
	snprintf(text, n, COMMENT_PREFIX SK_COMMENT "%s\n%s\n", id, b64);
	*out_text = text;
done:
	sodium_free(raw);
	sodium_free(b64);
	return error;
}

void ureg_secret_key_text_free(char *text)
{
	if (!text)
		return;
	sodium_memzero(text, strlen(text));
	free(text);
}

/* Parses a secret key text into `raw` (SK_BYTES + 3 of secure memory) and
 * checks its algorithms; `id_hint` gets the key id the (untrusted) comment
 * line names, if ureg wrote it, for messages. */
static int sign_sk_parse(unsigned char *raw, int *encrypted,
                         char id_hint[UREG_SIGN_KEYID_STRLEN + 1],
                         const char *text, size_t len)
{
	static const char what[] = "secret key";
	static const unsigned char no_kdf[2] = {0, 0};
	struct line l;
	size_t pos = 0, n, i;
	char alg[16];
	int error;

	id_hint[0] = '\0';
	if ((error = sign_check_text(text, len, what)) < 0)
		return error;
	if (!sign_next_line(&l, text, len, &pos) ||
	    !sign_has_prefix(&l, COMMENT_PREFIX))
		return ureg_error_set(UREG_EINVALID,
		                      "secret key line 1 does not start with "
		                      "\"" COMMENT_PREFIX "\"");
	n = l.len - strlen(COMMENT_PREFIX);
	if (n > UREG_SIGN_COMMENT_MAX)
		return ureg_error_set(
		        UREG_ETOOBIG,
		        "secret key comment is %zu bytes, cap is %d", n,
		        UREG_SIGN_COMMENT_MAX);
	if (n > strlen(SK_COMMENT) &&
	    n - strlen(SK_COMMENT) <= UREG_SIGN_KEYID_STRLEN &&
	    memcmp(l.p + strlen(COMMENT_PREFIX), SK_COMMENT,
	           strlen(SK_COMMENT)) == 0) {
		const char *h = l.p + strlen(COMMENT_PREFIX SK_COMMENT);
		size_t hn = n - strlen(SK_COMMENT);

		for (i = 0; i < hn && strchr("0123456789ABCDEF", h[i]); i++)
			;
		if (i == hn) {
			memcpy(id_hint, h, hn);
			id_hint[hn] = '\0';
		}
	}
	if (!sign_next_line(&l, text, len, &pos))
		return ureg_error_set(UREG_EINVALID,
		                      "secret key has no line 2 (the base64 "
		                      "key)");
	if ((error = sign_decode_line(raw, SK_BYTES, &l, what, 2)) < 0)
		return error;
	if (!sign_rest_blank(text, len, pos))
		return ureg_error_set(UREG_EINVALID,
		                      "secret key has unexpected content after "
		                      "line 2");
	if (memcmp(raw, SIGALG, 2) != 0) {
		sign_alg_name(alg, raw);
		return ureg_error_set(UREG_EINVALID,
		                      "unsupported signature algorithm %s in "
		                      "secret key",
		                      alg);
	}
	if (memcmp(raw + SK_OFF_KDF, KDFALG, 2) == 0) {
		*encrypted = 1;
	} else if (memcmp(raw + SK_OFF_KDF, no_kdf, 2) == 0) {
		*encrypted = 0;
	} else {
		sign_alg_name(alg, raw + SK_OFF_KDF);
		return ureg_error_set(UREG_EINVALID,
		                      "unsupported key derivation algorithm %s "
		                      "in secret key",
		                      alg);
	}
	if (memcmp(raw + SK_OFF_CHK, CHKALG, 2) != 0) {
		sign_alg_name(alg, raw + SK_OFF_CHK);
		return ureg_error_set(UREG_EINVALID,
		                      "unsupported checksum algorithm %s in "
		                      "secret key",
		                      alg);
	}
	return 0;
}

int ureg_secret_key_needs_passphrase(const char *text, size_t len)
{
	unsigned char *raw = NULL;
	char hint[UREG_SIGN_KEYID_STRLEN + 1];
	int error, encrypted = 0;

	if ((error = sign_init()) < 0)
		return error;
	if (!(raw = sodium_malloc(SK_BYTES + 3)))
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate secure memory");
	error = sign_sk_parse(raw, &encrypted, hint, text, len);
	sodium_free(raw);
	return error < 0 ? error : encrypted;
}

int ureg_secret_key_load(ureg_secret_key **out, const char *text, size_t len,
                         const char *passphrase)
{
	unsigned char *raw = NULL, *check = NULL;
	unsigned char chk[CHK_BYTES], pk[PK_RAW];
	char hint[UREG_SIGN_KEYID_STRLEN + 1], id[UREG_SIGN_KEYID_STRLEN + 1];
	ureg_secret_key *sk = NULL;
	const unsigned char *payload;
	int error, encrypted = 0;
	uint64_t ops, mem;

	*out = NULL;
	if ((error = sign_init()) < 0)
		return error;
	if (!(raw = sodium_malloc(SK_BYTES + 3)) ||
	    !(check = sodium_malloc(SK_RAW)) ||
	    !(sk = sodium_malloc(sizeof(*sk)))) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "cannot allocate secure memory");
		goto done;
	}
	if ((error = sign_sk_parse(raw, &encrypted, hint, text, len)) < 0)
		goto done;
	if (encrypted) {
		ops = sign_le64_load(raw + SK_OFF_OPS);
		mem = sign_le64_load(raw + SK_OFF_MEM);
		if (!passphrase) {
			error = ureg_error_set(UREG_EINVALID,
			                       "secret key%s%s is encrypted: a "
			                       "passphrase is needed",
			                       *hint ? " " : "", hint);
			goto done;
		}
		if (ops > UREG_KDF_OPSLIMIT_MAX ||
		    mem > UREG_KDF_MEMLIMIT_MAX) {
			error = ureg_error_set(
			        UREG_ETOOBIG,
			        "secret key asks for scrypt limits %" PRIu64
			        "/%" PRIu64 ", caps are %" PRIu64 "/%" PRIu64,
			        ops, mem, UREG_KDF_OPSLIMIT_MAX,
			        UREG_KDF_MEMLIMIT_MAX);
			goto done;
		}
		if ((error = sign_sk_crypt(raw, passphrase)) < 0)
			goto done;
	}
	payload = raw + SK_OFF_PAYLOAD;
	sign_sk_checksum(chk, payload, payload + KEYID_BYTES);
	/* minisign 0.11 writes unencrypted keys (-W) with a zero checksum;
	 * the seed check below still catches a damaged one. */
	if (sodium_memcmp(chk, payload + KEYID_BYTES + SK_RAW, CHK_BYTES) !=
	            0 &&
	    (encrypted ||
	     !sodium_is_zero(payload + KEYID_BYTES + SK_RAW, CHK_BYTES))) {
		if (encrypted)
			error = ureg_error_set(
			        UREG_EDENIED,
			        "wrong passphrase for secret key%s%s",
			        *hint ? " " : "", hint);
		else
			error = ureg_error_set(
			        UREG_EINVALID,
			        "secret key checksum does not "
			        "match: the key file is corrupt");
		goto done;
	}
	memcpy(sk->key_id, payload, KEYID_BYTES);
	memcpy(sk->sk, payload + KEYID_BYTES, SK_RAW);
	/* The checksum only covers what was stored: make sure the public
	 * half is the one the seed gives, or signatures would not verify. */
	crypto_sign_seed_keypair(pk, check, sk->sk);
	if (sodium_memcmp(check, sk->sk, SK_RAW) != 0) {
		ureg_secret_key_id(id, sk);
		error = ureg_error_set(UREG_EINVALID,
		                       "secret key %s is inconsistent: its "
		                       "public half does not match its seed",
		                       id);
		goto done;
	}
	*out = sk;
	sk = NULL;
done:
	sodium_memzero(chk, sizeof(chk));
	sodium_free(raw);
	sodium_free(check);
	ureg_secret_key_free(sk);
	return error;
}

/* --- signatures ---------------------------------------------------------- */

/* Checks a base64 line of a signature; a short last line without its
 * newline is reported as truncation rather than as bad base64. */
static int sign_sig_line(unsigned char *bin, size_t want, const struct line *l,
                         int lineno)
{
	if (!l->terminated && l->len < sign_b64_len(want))
		return ureg_error_set(UREG_EINVALID,
		                      "signature is truncated in line %d",
		                      lineno);
	return sign_decode_line(bin, want, l, "signature", lineno);
}

static int sign_sig_missing(int have)
{
	return ureg_error_set(UREG_EINVALID,
	                      "signature is truncated: %d of 4 lines", have);
}

static int sign_sig_parse(struct sig_parts *out, const char *text, size_t len)
{
	unsigned char global[SIG_RAW + 3], raw[SIG_BYTES + 3];
	struct line l;
	size_t pos = 0, n;
	char alg[16];
	int error;

	if ((error = sign_check_text(text, len, "signature")) < 0)
		return error;
	/* line 1: untrusted comment */
	if (!sign_next_line(&l, text, len, &pos))
		return sign_sig_missing(0);
	if (sign_cut_prefix(&l, COMMENT_PREFIX))
		return ureg_error_set(UREG_EINVALID,
		                      "signature is truncated in line 1");
	if (!sign_has_prefix(&l, COMMENT_PREFIX))
		return ureg_error_set(UREG_EINVALID,
		                      "signature line 1 does not start with "
		                      "\"" COMMENT_PREFIX "\"");
	n = l.len - strlen(COMMENT_PREFIX);
	if (n > UREG_SIGN_COMMENT_MAX)
		return ureg_error_set(
		        UREG_ETOOBIG,
		        "untrusted comment is %zu bytes, cap is %d", n,
		        UREG_SIGN_COMMENT_MAX);
	/* line 2: algorithm, key id, signature */
	if (!sign_next_line(&l, text, len, &pos))
		return sign_sig_missing(1);
	if ((error = sign_sig_line(raw, SIG_BYTES, &l, 2)) < 0)
		return error;
	if (memcmp(raw, SIGALG, 2) != 0 && memcmp(raw, SIGALG_HASHED, 2) != 0) {
		sign_alg_name(alg, raw);
		return ureg_error_set(UREG_EINVALID,
		                      "unsupported signature algorithm %s in "
		                      "signature",
		                      alg);
	}
	/* line 3: trusted comment */
	if (!sign_next_line(&l, text, len, &pos))
		return sign_sig_missing(2);
	if (sign_cut_prefix(&l, TRUSTED_PREFIX))
		return ureg_error_set(UREG_EINVALID,
		                      "signature is truncated in line 3");
	if (!sign_has_prefix(&l, TRUSTED_PREFIX))
		return ureg_error_set(UREG_EINVALID,
		                      "signature line 3 does not start with "
		                      "\"" TRUSTED_PREFIX "\"");
	out->trusted = l.p + strlen(TRUSTED_PREFIX);
	out->trusted_len = l.len - strlen(TRUSTED_PREFIX);
	if (out->trusted_len > UREG_SIGN_COMMENT_MAX)
		return ureg_error_set(UREG_ETOOBIG,
		                      "trusted comment is %zu bytes, cap is %d",
		                      out->trusted_len, UREG_SIGN_COMMENT_MAX);
	if (memchr(out->trusted, '\r', out->trusted_len))
		return ureg_error_set(UREG_EINVALID,
		                      "trusted comment contains a carriage "
		                      "return");
	/* line 4: signature over signature || trusted comment */
	if (!sign_next_line(&l, text, len, &pos))
		return sign_sig_missing(3);
	if ((error = sign_sig_line(global, SIG_RAW, &l, 4)) < 0)
		return error;
	if (!sign_rest_blank(text, len, pos))
		return ureg_error_set(UREG_EINVALID,
		                      "signature has unexpected content after "
		                      "line 4");
	memcpy(out->raw, raw, SIG_BYTES);
	memcpy(out->global, global, SIG_RAW);
	return 0;
}

int ureg_sign_parse_key_id(char out[UREG_SIGN_KEYID_STRLEN + 1],
                           const char *sig_text, size_t sig_len)
{
	struct sig_parts s;
	int error;

	out[0] = '\0';
	if ((error = sign_init()) < 0 ||
	    (error = sign_sig_parse(&s, sig_text, sig_len)) < 0)
		return error;
	sign_key_id_hex(out, s.raw + 2);
	return 0;
}

int ureg_sign(char **out_sig_text, const ureg_secret_key *sk, const void *msg,
              size_t len, const char *trusted_comment,
              const char *untrusted_comment)
{
	unsigned char hash[PREHASH_BYTES], raw[SIG_BYTES], global[SIG_RAW];
	unsigned char signed_tc[SIG_RAW + UREG_SIGN_COMMENT_MAX];
	char b64_sig[sodium_base64_ENCODED_LEN(SIG_BYTES,
	                                       sodium_base64_VARIANT_ORIGINAL)];
	char b64_global[sodium_base64_ENCODED_LEN(
	        SIG_RAW, sodium_base64_VARIANT_ORIGINAL)];
	size_t tc_len, n;
	char *text = NULL;
	int error;

	*out_sig_text = NULL;
	if (!trusted_comment)
		trusted_comment = "";
	if (!untrusted_comment)
		untrusted_comment = DEFAULT_UNTRUSTED;
	if ((error = sign_init()) < 0 ||
	    (error = sign_check_comment(trusted_comment, "trusted comment")) <
	            0 ||
	    (error = sign_check_comment(untrusted_comment,
	                                "untrusted comment")) < 0)
		return error;
	tc_len = strlen(trusted_comment);

	/* "ED": Ed25519 over BLAKE2b-512(message) */
	crypto_generichash(hash, sizeof(hash), msg, len, NULL, 0);
	memcpy(raw, SIGALG_HASHED, 2);
	memcpy(raw + 2, sk->key_id, KEYID_BYTES);
	crypto_sign_detached(raw + 2 + KEYID_BYTES, NULL, hash, sizeof(hash),
	                     sk->sk);
	memcpy(signed_tc, raw + 2 + KEYID_BYTES, SIG_RAW);
	memcpy(signed_tc + SIG_RAW, trusted_comment, tc_len);
	crypto_sign_detached(global, NULL, signed_tc, SIG_RAW + tc_len, sk->sk);
	sodium_bin2base64(b64_sig, sizeof(b64_sig), raw, sizeof(raw),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(b64_global, sizeof(b64_global), global,
	                  sizeof(global), sodium_base64_VARIANT_ORIGINAL);

	n = strlen(COMMENT_PREFIX TRUSTED_PREFIX "\n\n\n\n") +
	    strlen(untrusted_comment) + strlen(b64_sig) + tc_len +
	    strlen(b64_global) + 1;
	if (!(text = malloc(n)))
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot allocate a signature text");
	snprintf(text, n, COMMENT_PREFIX "%s\n%s\n" TRUSTED_PREFIX "%s\n%s\n",
	         untrusted_comment, b64_sig, trusted_comment, b64_global);
	*out_sig_text = text;
	return 0;
}

int ureg_sign_verify(const ureg_public_key *pk, const void *msg, size_t len,
                     const char *sig_text, size_t sig_len,
                     char **trusted_comment_out)
{
	static const unsigned char empty[1] = {0};
	unsigned char hash[PREHASH_BYTES];
	unsigned char signed_tc[SIG_RAW + UREG_SIGN_COMMENT_MAX];
	char sig_id[UREG_SIGN_KEYID_STRLEN + 1],
	        pk_id[UREG_SIGN_KEYID_STRLEN + 1];
	const unsigned char *sig;
	struct sig_parts s;
	int error, msg_ok, tc_ok;
	char *tc = NULL;

	if (trusted_comment_out)
		*trusted_comment_out = NULL;
	if (!msg)
		msg = empty;
	if ((error = sign_init()) < 0 ||
	    (error = sign_sig_parse(&s, sig_text, sig_len)) < 0)
		return error;
	if (memcmp(s.raw + 2, pk->key_id, KEYID_BYTES) != 0) {
		sign_key_id_hex(sig_id, s.raw + 2);
		ureg_public_key_id(pk_id, pk);
		return ureg_error_set(UREG_ESIGNATURE,
		                      "signature key id %s does not match "
		                      "public key %s",
		                      sig_id, pk_id);
	}
	sig = s.raw + 2 + KEYID_BYTES;
	if (memcmp(s.raw, SIGALG_HASHED, 2) == 0) {
		crypto_generichash(hash, sizeof(hash), msg, len, NULL, 0);
		msg_ok = crypto_sign_verify_detached(sig, hash, sizeof(hash),
		                                     pk->pk) == 0;
	} else {
		/* legacy "Ed": Ed25519 over the message itself */
		msg_ok =
		        crypto_sign_verify_detached(sig, msg, len, pk->pk) == 0;
	}
	memcpy(signed_tc, sig, SIG_RAW);
	memcpy(signed_tc + SIG_RAW, s.trusted, s.trusted_len);
	tc_ok = crypto_sign_verify_detached(s.global, signed_tc,
	                                    SIG_RAW + s.trusted_len,
	                                    pk->pk) == 0;
	/* The global signature covers the signature bytes too, so both
	 * failing points at the signature line itself. */
	if (!msg_ok && !tc_ok)
		return ureg_error_set(
		        UREG_ESIGNATURE,
		        "signature does not verify, nor does its "
		        "trusted comment signature: the signature "
		        "was altered or made by another key");
	if (!msg_ok)
		return ureg_error_set(UREG_ESIGNATURE,
		                      "signature does not verify: the content "
		                      "is not what was signed");
	if (!tc_ok)
		return ureg_error_set(UREG_ESIGNATURE,
		                      "trusted comment signature does not "
		                      "verify");
	if (trusted_comment_out) {
		if (!(tc = malloc(s.trusted_len + 1)))
			return ureg_error_set(UREG_ENOMEM,
			                      "cannot allocate a trusted "
			                      "comment");
		memcpy(tc, s.trusted, s.trusted_len);
		tc[s.trusted_len] = '\0';
		*trusted_comment_out = tc;
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* sha256 with libcrypto's EVP; the only user of OpenSSL in ureg. */
#include "store/digest.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ureg_hasher {
	EVP_MD_CTX *ctx;
};

static const char hex_digits[] = "0123456789abcdef";

/* SHA-256 from the default provider, fetched once. OpenSSL is set up
 * without reading openssl.cnf or registering every algorithm name: ureg
 * only hashes (libcurl, if it talks TLS, initialises what it needs), and
 * that setup was 1-2 ms of every command. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_init(void)
{
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG |
	                            OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
	                            OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
	                    NULL);
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* NULL only if OpenSSL has no SHA-256 (then every call below fails). */
static const EVP_MD *sha256(void)
{
	pthread_once(&sha256_once, sha256_init);
	return sha256_md ? sha256_md : EVP_sha256();
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int ureg_digest_parse_n(ureg_digest *out, const char *text, size_t len)
{
	size_t i;

	if (len != UREG_DIGEST_STRLEN || memcmp(text, "sha256:", 7) != 0)
		goto invalid;
	for (i = 0; i < UREG_DIGEST_SIZE; i++) {
		int hi = hex_value(text[7 + 2 * i]);
		int lo = hex_value(text[8 + 2 * i]);

		if (hi < 0 || lo < 0)
			goto invalid;
		out->bytes[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
invalid:
	return ureg_error_set(
	        UREG_EINVALID,
	        "digest \"%.*s\" is not sha256:<64 lower-case hex>",
	        (int)(len > 100 ? 100 : len), text);
}

int ureg_digest_parse(ureg_digest *out, const char *text)
{
	return ureg_digest_parse_n(out, text, strlen(text));
}

void ureg_digest_hex(char out[UREG_DIGEST_HEXLEN + 1],
                     const ureg_digest *digest)
{
	size_t i;

	for (i = 0; i < UREG_DIGEST_SIZE; i++) {
		out[2 * i] = hex_digits[digest->bytes[i] >> 4];
		out[2 * i + 1] = hex_digits[digest->bytes[i] & 15];
	}
	out[UREG_DIGEST_HEXLEN] = '\0';
}

void ureg_digest_format(char out[UREG_DIGEST_STRLEN + 1],
                        const ureg_digest *digest)
{
	memcpy(out, "sha256:", 7);
	ureg_digest_hex(out + 7, digest);
}

int ureg_digest_equal(const ureg_digest *a, const ureg_digest *b)
{
	return memcmp(a->bytes, b->bytes, UREG_DIGEST_SIZE) == 0;
}

void ureg_digest_buffer(ureg_digest *out, const void *data, size_t len)
{
	unsigned int n = 0;

	EVP_Digest(data, len, out->bytes, &n, sha256(), NULL);
}

int ureg_hasher_new(ureg_hasher **out)
{
	ureg_hasher *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h || !(h->ctx = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(h->ctx, sha256(), NULL) != 1) {
		ureg_hasher_free(h);
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot create a sha256 context");
	}
	*out = h;
	return 0;
}

void ureg_hasher_update(ureg_hasher *hasher, const void *data, size_t len)
{
	EVP_DigestUpdate(hasher->ctx, data, len);
}

void ureg_hasher_final(ureg_digest *out, ureg_hasher *hasher)
{
	unsigned int n = 0;

	EVP_DigestFinal_ex(hasher->ctx, out->bytes, &n);
	EVP_DigestInit_ex(hasher->ctx, sha256(), NULL);
}

int ureg_hasher_dup(ureg_hasher **out, const ureg_hasher *hasher)
{
	ureg_hasher *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h || !(h->ctx = EVP_MD_CTX_new()) ||
	    EVP_MD_CTX_copy_ex(h->ctx, hasher->ctx) != 1) {
		ureg_hasher_free(h);
		return ureg_error_set(UREG_ENOMEM,
		                      "cannot copy a sha256 context");
	}
	*out = h;
	return 0;
}

void ureg_hasher_free(ureg_hasher *hasher)
{
	if (!hasher)
		return;
	EVP_MD_CTX_free(hasher->ctx);
	free(hasher);
}

int ureg_digest_fd(ureg_digest *out, uint64_t *size_out, int fd, uint64_t max)
{
	static const size_t chunk = 256 * 1024;
	ureg_hasher *h = NULL;
	unsigned char *buf = NULL;
	uint64_t total = 0;
	int error;

	if ((error = ureg_hasher_new(&h)) < 0)
		return error;
	if (!(buf = malloc(chunk))) {
		error = ureg_error_set(UREG_ENOMEM,
		                       "cannot allocate a read buffer");
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, buf, chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ureg_error_set_errno(UREG_EIO, "read failed");
			goto done;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > max) {
			error = ureg_error_set(UREG_ETOOBIG,
			                       "input exceeds %llu bytes",
			                       (unsigned long long)max);
			goto done;
		}
		ureg_hasher_update(h, buf, (size_t)n);
	}
	ureg_hasher_final(out, h);
	if (size_out)
		*size_out = total;
done:
	free(buf);
	ureg_hasher_free(h);
	return error;
}

/* scram: SCRAM-SHA-256 credentials and primitives (RFC 5802, RFC 7677)
 * over OpenSSL 3. A stored credential keeps no plaintext equivalent:
 * only the salt, the iteration count, StoredKey and ServerKey, in the
 * PostgreSQL/Dovecot text form
 *   SCRAM-SHA-256$<iter>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
 * Also the strict base64 (RFC 4648, padded) used by every SASL mechanism. */
#ifndef MOAT_SCRAM_H
#define MOAT_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_PREFIX		"SCRAM-SHA-256$"
#define SCRAM_KEY_LEN		32	/* SHA-256 output */
#define SCRAM_SALT_LEN		16	/* salt made by scram_derive() */
#define SCRAM_SALT_MAX		64	/* longest salt accepted when parsing */
#define SCRAM_ITER_DEFAULT	4096	/* RFC 7677 3: SHOULD be at least */
#define SCRAM_ITER_MIN		4096
#define SCRAM_ITER_MAX		10000000
#define SCRAM_CRED_MAX		256	/* text form incl. NUL */

struct scram_cred {
	unsigned	 iter;
	uint8_t		 salt[SCRAM_SALT_MAX];
	size_t		 salt_len;
	uint8_t		 stored_key[SCRAM_KEY_LEN];
	uint8_t		 server_key[SCRAM_KEY_LEN];
};

/* Derive the credential of password with a fresh random salt and iter
 * iterations (SCRAM_ITER_MIN..SCRAM_ITER_MAX) and write its text form to
 * out. Returns 0, or -1 (bad iter, no randomness, out too small). */
int scram_derive(const char *password, unsigned iter, char *out,
    size_t outlen);
/* The same with a given salt, into a struct. Returns 0 or -1. */
int scram_derive_cred(const char *password, const uint8_t *salt,
    size_t salt_len, unsigned iter, struct scram_cred *c);
/* Text form of c. Returns 0, or -1 when out is too small. */
int scram_cred_format(const struct scram_cred *c, char *out, size_t outlen);
/* Parse the text form (strict). Returns 0, or -1 when malformed. */
int scram_cred_parse(const char *s, struct scram_cred *c);

/* HMAC-SHA-256 and SHA-256. Return 0 or -1 (OpenSSL failure). */
int scram_hmac(const uint8_t *key, size_t keylen, const void *msg,
    size_t msglen, uint8_t out[SCRAM_KEY_LEN]);
int scram_hash(const void *msg, size_t len, uint8_t out[SCRAM_KEY_LEN]);
/* Constant-time comparison of two equal-length byte strings. */
bool scram_ct_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* Encoded length of n bytes, without the NUL. */
#define SCRAM_B64_LEN(n)	((((n) + 2) / 3) * 4)
/* Base64-encode in into out (NUL-terminated). Returns the length
 * written without the NUL, or -1 when out is too small. */
int scram_b64_encode(const uint8_t *in, size_t len, char *out,
    size_t outlen);
/* Strict decode (RFC 4954 4): only the base64 alphabet, length a
 * multiple of 4, '=' only as the final one or two characters, no
 * whitespace, unused bits zero. "" decodes to zero bytes. Returns 0 with
 * *len_r, or -1 when malformed or out is too small. */
int scram_b64_decode(const char *in, size_t len, uint8_t *out,
    size_t outlen, size_t *len_r);

#endif

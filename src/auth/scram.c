/* scram: SCRAM-SHA-256 key derivation, the stored credential format and
 * strict base64, on OpenSSL 3 (PKCS5_PBKDF2_HMAC, HMAC, EVP_Digest).
 * Intermediate keys (SaltedPassword, ClientKey) are wiped after use. */
#include "scram.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "util.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
scram_b64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	uint32_t v;

	if (len > (SIZE_MAX / 4) * 3 - 3 || SCRAM_B64_LEN(len) >= outlen)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
scram_b64_decode(const char *in, size_t len, uint8_t *out, size_t outlen,
    size_t *len_r)
{
	size_t i, o = 0, pad = 0;
	uint32_t v;
	int d, k;

	*len_r = 0;
	if (len % 4 != 0)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	if ((len / 4) * 3 - pad > outlen)
		return -1;
	for (i = 0; i < len; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			/* '=' only in the last pad positions */
			if (i + 4 == len && k >= 4 - (int)pad) {
				if (in[i + k] != '=')
					return -1;
				d = 0;
			} else if ((d = b64_value(in[i + k])) < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (uint8_t)(v >> 16);
		if (i + 4 < len || pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		else if ((v & 0xffff) != 0)
			return -1;	/* non-zero unused bits */
		if (i + 4 < len || pad < 1)
			out[o++] = (uint8_t)v;
		else if ((v & 0xff) != 0)
			return -1;
	}
	*len_r = o;
	return 0;
}

bool
scram_ct_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t diff = 0;
	size_t i;

	for (i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

int
scram_hmac(const uint8_t *key, size_t keylen, const void *msg, size_t msglen,
    uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int n = 0;

	if (keylen > INT32_MAX ||
	    HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &n) ==
	    NULL || n != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

int
scram_hash(const void *msg, size_t len, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(msg, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

int
scram_derive_cred(const char *password, const uint8_t *salt, size_t salt_len,
    unsigned iter, struct scram_cred *c)
{
	uint8_t salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	size_t pwlen = strlen(password);
	int ret = -1;

	memset(c, 0, sizeof(*c));
	if (iter < SCRAM_ITER_MIN || iter > SCRAM_ITER_MAX ||
	    salt_len == 0 || salt_len > SCRAM_SALT_MAX || pwlen > INT32_MAX)
		return -1;
	/* SaltedPassword := Hi(Normalize(password), salt, i). Normalize
	 * (SASLprep) is the identity for the ASCII passwords that matter;
	 * see sasl.h. */
	if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)salt_len,
	    (int)iter, EVP_sha256(), sizeof(salted), salted) != 1)
		goto out;
	/* ClientKey := HMAC(SaltedPassword, "Client Key"),
	 * StoredKey := H(ClientKey),
	 * ServerKey := HMAC(SaltedPassword, "Server Key") */
	if (scram_hmac(salted, sizeof(salted), "Client Key", 10,
	    client_key) < 0 ||
	    scram_hash(client_key, sizeof(client_key), c->stored_key) < 0 ||
	    scram_hmac(salted, sizeof(salted), "Server Key", 10,
	    c->server_key) < 0)
		goto out;
	memcpy(c->salt, salt, salt_len);
	c->salt_len = salt_len;
	c->iter = iter;
	ret = 0;
out:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	if (ret < 0)
		explicit_bzero(c, sizeof(*c));
	return ret;
}

int
scram_cred_format(const struct scram_cred *c, char *out, size_t outlen)
{
	char salt[SCRAM_B64_LEN(SCRAM_SALT_MAX) + 1];
	char sk[SCRAM_B64_LEN(SCRAM_KEY_LEN) + 1];
	char vk[SCRAM_B64_LEN(SCRAM_KEY_LEN) + 1];
	int n;

	if (c->salt_len == 0 || c->salt_len > SCRAM_SALT_MAX ||
	    scram_b64_encode(c->salt, c->salt_len, salt, sizeof(salt)) < 0 ||
	    scram_b64_encode(c->stored_key, SCRAM_KEY_LEN, sk,
	    sizeof(sk)) < 0 ||
	    scram_b64_encode(c->server_key, SCRAM_KEY_LEN, vk,
	    sizeof(vk)) < 0)
		return -1;
	n = snprintf(out, outlen, SCRAM_PREFIX "%u:%s$%s:%s", c->iter, salt,
	    sk, vk);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return 0;
}

int
scram_derive(const char *password, unsigned iter, char *out, size_t outlen)
{
	uint8_t salt[SCRAM_SALT_LEN];
	struct scram_cred c;
	int ret;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	if (scram_derive_cred(password, salt, sizeof(salt), iter, &c) < 0)
		return -1;
	ret = scram_cred_format(&c, out, outlen);
	explicit_bzero(&c, sizeof(c));
	return ret;
}

/* Decode the base64 field [p, end) into out, exactly want bytes (or
 * 1..max when want is 0). */
static int
cred_field(const char *p, const char *end, uint8_t *out, size_t max,
    size_t want, size_t *len_r)
{
	size_t len;

	/* UNSAFE: end points into the same string, at or after p */
	if (scram_b64_decode(p, (size_t)(end - p), out, max, &len) < 0 ||
	    len == 0 || (want != 0 && len != want))
		return -1;
	if (len_r != NULL)
		*len_r = len;
	return 0;
}

/* SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey> */
int
scram_cred_parse(const char *s, struct scram_cred *c)
{
	const char *p, *colon, *dollar, *colon2;
	char num[16];
	uint64_t iter;
	const char *err;
	size_t n;

	memset(c, 0, sizeof(*c));
	if (strncmp(s, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) != 0)
		return -1;
	p = s + strlen(SCRAM_PREFIX);
	if ((colon = strchr(p, ':')) == NULL ||
	    (dollar = strchr(colon, '$')) == NULL ||
	    (colon2 = strchr(dollar, ':')) == NULL ||
	    strchr(colon2 + 1, ':') != NULL || strchr(colon2, '$') != NULL)
		goto fail;
	n = (size_t)(colon - p);	/* UNSAFE: colon is in p */
	if (n == 0 || n >= sizeof(num))
		goto fail;
	memcpy(num, p, n);
	num[n] = '\0';
	if (num[0] == '0' || parse_u64(num, SCRAM_ITER_MIN, SCRAM_ITER_MAX,
	    &iter, &err) < 0)
		goto fail;
	c->iter = (unsigned)iter;
	if (cred_field(colon + 1, dollar, c->salt, sizeof(c->salt), 0,
	    &c->salt_len) < 0 ||
	    cred_field(dollar + 1, colon2, c->stored_key, SCRAM_KEY_LEN,
	    SCRAM_KEY_LEN, NULL) < 0 ||
	    cred_field(colon2 + 1, colon2 + 1 + strlen(colon2 + 1),
	    c->server_key, SCRAM_KEY_LEN, SCRAM_KEY_LEN, NULL) < 0)
		goto fail;
	return 0;
fail:
	explicit_bzero(c, sizeof(*c));
	return -1;
}

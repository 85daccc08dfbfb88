/* dkim_rsa: RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017 8.2.2)
 * straight on OpenSSL's BN layer, for RSA keys with a small odd public
 * exponent (65537 in practice). EVP_PKEY_verify redoes per call what a
 * struct dkim_rsa keeps (the BN conversions, the Montgomery context, a
 * general exponentiation, the padding checks through the provider
 * layers): a tenth of a DKIM verification. */
#include "dkim_private.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>

#include "xalloc.h"

#define DKIM_SHA256_LEN		32
#define DKIM_RSA_E_MAX		UINT32_MAX	/* larger e: EVP path */
#define DKIM_RSA_HWORDS		(DKIM_SHA256_LEN / BN_BYTES)

/* A public key made ready for dkim_rsa_verify(); read-only once made, so
 * shared by threads. The exponentiation starts from s itself rather than
 * from its Montgomery form (which costs a full multiplication by R^2),
 * so it ends with s^e R^-(e-1) mod n (see rsa_power); the expected
 * encoding is moved by the same factor K = R^-(e-1) instead, and as
 * only the 32 hash octets of the encoding vary, that costs a few word
 * products and one short reduction: EM K = EM0 K + sum of h_j (2^(wj)
 * K), h_j the hash's words of w bits. */
struct dkim_rsa {
	BIGNUM		*n;
	BN_MONT_CTX	*mont;
	BIGNUM		*em0k;		/* EM of a hash of zeros, times K */
	BIGNUM		*kw[DKIM_RSA_HWORDS];	/* 2^(wj) K mod n */
	uint32_t	 e;		/* odd, >= 3 */
	size_t		 k;		/* modulus octets */
	unsigned	 refs;
};

/* DER of the DigestInfo for SHA-256 (RFC 8017 9.2 note 1), before H. */
static const uint8_t sha256_digest_info[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};
#define DKIM_RSA_TLEN	(sizeof(sha256_digest_info) + DKIM_SHA256_LEN)

/* One BN_CTX per thread (pool threads verify in parallel), freed when
 * the thread ends. */
static pthread_key_t bn_ctx_key;
static pthread_once_t bn_ctx_once = PTHREAD_ONCE_INIT;
static bool bn_ctx_key_ok;

static void
bn_ctx_destroy(void *p)
{
	BN_CTX_free(p);
}

static void
bn_ctx_key_make(void)
{
	bn_ctx_key_ok = pthread_key_create(&bn_ctx_key, bn_ctx_destroy) == 0;
}

/* This thread's BN_CTX, or NULL. */
static BN_CTX *
bn_ctx(void)
{
	BN_CTX *c;

	if (pthread_once(&bn_ctx_once, bn_ctx_key_make) != 0 ||
	    !bn_ctx_key_ok)
		return NULL;
	if ((c = pthread_getspecific(bn_ctx_key)) != NULL)
		return c;
	if ((c = BN_CTX_new()) == NULL)
		return NULL;
	if (pthread_setspecific(bn_ctx_key, c) != 0) {
		BN_CTX_free(c);
		return NULL;
	}
	return c;
}

/* EM = 0x00 || 0x01 || PS (0xff, k - tlen - 3 octets) || 0x00 ||
 * DigestInfo || H (RFC 8017 9.2), with H all zeros, as an integer: the
 * encoding of a hash is this plus the hash. NULL when k is out of range
 * or on failure. */
static BIGNUM *
em_zero_hash(size_t k)
{
	uint8_t em[DKIM_SIG_B_MAX];

	if (k > sizeof(em) || k < DKIM_RSA_TLEN + 11)
		return NULL;
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, k - DKIM_RSA_TLEN - 3);
	em[k - DKIM_RSA_TLEN - 1] = 0x00;
	memcpy(em + k - DKIM_RSA_TLEN, sha256_digest_info,
	    sizeof(sha256_digest_info));
	memset(em + k - DKIM_SHA256_LEN, 0, DKIM_SHA256_LEN);
	return BN_bin2bn(em, (int)k, NULL);
}

/* acc = s^e R^-(e-1) mod n, R the Montgomery radix: left to right over
 * the bits of e from acc = s, each Montgomery product (x y R^-1) a
 * square or a product with s itself. With acc = s^c R^-a, a square
 * gives s^2c R^-(2a+1) and a product s^(c+1) R^-(a+1): a = c - 1
 * throughout. s < n. Returns 0, or -1 on failure. */
static int
rsa_power(const struct dkim_rsa *r, BIGNUM *acc, const BIGNUM *s,
    BN_CTX *ctx)
{
	int bit;

	if (BN_copy(acc, s) == NULL)
		return -1;
	for (bit = 31; ((r->e >> bit) & 1) == 0; bit--)
		;
	while (--bit >= 0) {
		if (BN_mod_mul_montgomery(acc, acc, acc, r->mont, ctx) != 1)
			return -1;
		if (((r->e >> bit) & 1) != 0 &&
		    BN_mod_mul_montgomery(acc, acc, s, r->mont, ctx) != 1)
			return -1;
	}
	return 0;
}

/* K = R^-(e-1) mod n (rsa_power of 1), EM0 K and the 2^(wj) K. */
static int
rsa_factors(struct dkim_rsa *r, BN_CTX *ctx)
{
	BIGNUM *kf, *em0 = em_zero_hash(r->k);
	size_t j;
	int ret = -1;

	BN_CTX_start(ctx);
	if (em0 == NULL || (kf = BN_CTX_get(ctx)) == NULL ||
	    rsa_power(r, kf, BN_value_one(), ctx) < 0 ||
	    (r->em0k = BN_new()) == NULL ||
	    BN_mod_mul(r->em0k, em0, kf, r->n, ctx) != 1)
		goto out;
	for (j = 0; j < DKIM_RSA_HWORDS; j++) {
		if ((r->kw[j] = BN_new()) == NULL ||
		    (j == 0 ? BN_copy(r->kw[j], kf) == NULL :
		    (BN_lshift(r->kw[j], r->kw[j - 1], BN_BITS2) != 1 ||
		    BN_nnmod(r->kw[j], r->kw[j], r->n, ctx) != 1)))
			goto out;
	}
	ret = 0;
out:
	BN_free(em0);
	BN_CTX_end(ctx);
	return ret;
}

void
dkim_rsa_unref(struct dkim_rsa *r)
{
	size_t j;

	if (r == NULL || --r->refs > 0)
		return;
	BN_MONT_CTX_free(r->mont);
	BN_free(r->n);
	BN_free(r->em0k);
	for (j = 0; j < DKIM_RSA_HWORDS; j++)
		BN_free(r->kw[j]);
	free(r);
}

void
dkim_rsa_ref(struct dkim_rsa *r)
{
	r->refs++;
}

struct dkim_rsa *
dkim_rsa_new(EVP_PKEY *pk)
{
	struct dkim_rsa *r;
	BIGNUM *e = NULL;
	BN_CTX *ctx;
	BN_ULONG w;

	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ||
	    (ctx = bn_ctx()) == NULL ||
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		return NULL;
	w = BN_get_word(e);
	BN_free(e);
	if (w < 3 || w > DKIM_RSA_E_MAX || (w & 1) == 0)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->e = (uint32_t)w;
	r->refs = 1;
	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &r->n) != 1 ||
	    !BN_is_odd(r->n) || BN_num_bits(r->n) < DKIM_RSA_BITS_MIN ||
	    (r->mont = BN_MONT_CTX_new()) == NULL ||
	    BN_MONT_CTX_set(r->mont, r->n, ctx) != 1 ||
	    (r->k = (size_t)BN_num_bytes(r->n)) > DKIM_SIG_B_MAX ||
	    rsa_factors(r, ctx) < 0) {
		dkim_rsa_unref(r);
		return NULL;
	}
	return r;
}

/* The hash's word j (j = 0 the least significant) of BN_BITS2 bits. */
static BN_ULONG
hash_word(const uint8_t *hash, size_t j)
{
	const uint8_t *p = hash + DKIM_SHA256_LEN - (j + 1) * BN_BYTES;
	BN_ULONG w = 0;
	size_t i;

	for (i = 0; i < BN_BYTES; i++)
		w = w << 8 | p[i];
	return w;
}

/* b must be k octets (8.2.2 step 1, as OpenSSL checks: a valid
 * signature with a leading zero octet left out is the same integer,
 * but is refused), s = b as an integer < n (5.2.2 step 1), s^e mod n is
 * compared with the one valid encoding of the hash (8.2.2 steps 3-4:
 * encode and compare, so nothing else passes; both are below n, so
 * equal as integers exactly when equal as k octets), each times K (see
 * struct dkim_rsa; K is invertible mod n, so the comparison is the
 * same). */
int
dkim_rsa_verify(const struct dkim_rsa *r, const uint8_t *hash,
    const uint8_t *b, size_t blen)
{
	BN_CTX *ctx;
	BIGNUM *s, *acc, *want, *t;
	size_t j;
	int ret = -1;

	if (blen != r->k || blen > INT_MAX)
		return 0;
	if ((ctx = bn_ctx()) == NULL)
		return -1;
	BN_CTX_start(ctx);
	s = BN_CTX_get(ctx);
	acc = BN_CTX_get(ctx);
	want = BN_CTX_get(ctx);
	t = BN_CTX_get(ctx);
	if (t == NULL || BN_bin2bn(b, (int)blen, s) == NULL)
		goto out;
	if (BN_ucmp(s, r->n) >= 0) {
		ret = 0;
		goto out;
	}
	if (rsa_power(r, acc, s, ctx) < 0 || BN_copy(want, r->em0k) == NULL)
		goto out;
	for (j = 0; j < DKIM_RSA_HWORDS; j++)
		if (BN_copy(t, r->kw[j]) == NULL ||
		    BN_mul_word(t, hash_word(hash, j)) != 1 ||
		    BN_add(want, want, t) != 1)
			goto out;
	if (BN_nnmod(want, want, r->n, ctx) != 1)
		goto out;
	ret = BN_cmp(acc, want) == 0 ? 1 : 0;
out:
	BN_CTX_end(ctx);
	return ret;
}

/* dkim_sign: making DKIM-Signature fields (RFC 6376 5, RFC 8463) and DKIM
 * keys. A signer holds one parsed private key; a signing run hashes the
 * body once per canonicalization in use, picks the recommended header
 * fields present (From, Subject, Date and To over-signed: listed once
 * more than present, so none can be added later), and folds the field
 * at 78 columns. */
#include "dkim_private.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "util.h"
#include "xalloc.h"

#define DKIM_SHA256_LEN		32
#define DKIM_SIGN_FIELD_MAX	(32 * 1024)	/* one produced field */

/* A signing context ready for a signer's key: setting one up in OpenSSL
 * 3 (EVP_PKEY_CTX_new, provider fetches, padding and digest parameters)
 * costs as much as hashing the message. RSA: pctx after
 * EVP_PKEY_sign_init with PKCS#1 padding and SHA-256; Ed25519: mctx
 * after EVP_DigestSignInit. Lent whole to one thread at a time (taken
 * under the lock, given back after); a thread that finds it lent makes
 * its own, so a signer may be shared by the threads of a pool. */
struct sready {
	pthread_mutex_t	 lock;
	EVP_PKEY_CTX	*pctx;
	EVP_MD_CTX	*mctx;
};

struct dkim_signer {
	char		 domain[DKIM_DOMAIN_MAX + 1];
	char		 selector[DKIM_SELECTOR_MAX + 1];
	enum dkim_alg	 alg;
	enum dkim_canon	 hcanon;
	enum dkim_canon	 bcanon;
	bool		 length_tag;
	EVP_PKEY	*pk;
	struct sready	*ready;		/* NULL: no lock, none kept */
};

struct dkim_sign {
	struct dkim_signer *const *signers;
	size_t		 nsigners;
	time_t		 now;
	struct dkim_msg	 msg;
	/* one body hash per canonicalization in use */
	EVP_MD_CTX	*bmd[2];
	struct dkim_body *body[2];
	uint64_t	 body_len[2];	/* canonical body octets */
	bool		 failed;
};

/* The fields signed when present (RFC 6376 5.4.1), and whether each is
 * over-signed. */
static const struct {
	const char	*name;
	bool		 over;
} sign_fields[] = {
	{ "from", true },
	{ "to", true },
	{ "cc", false },
	{ "subject", true },
	{ "date", true },
	{ "message-id", false },
	{ "reply-to", false },
	{ "sender", false },
	{ "in-reply-to", false },
	{ "references", false },
	{ "mime-version", false },
	{ "content-type", false },
	{ "content-transfer-encoding", false },
	{ "content-id", false },
	{ "content-description", false },
	{ "resent-date", false },
	{ "resent-from", false },
	{ "resent-sender", false },
	{ "resent-to", false },
	{ "resent-cc", false },
	{ "resent-message-id", false },
	{ "list-id", false },
	{ "list-help", false },
	{ "list-unsubscribe", false },
	{ "list-unsubscribe-post", false },
	{ "list-subscribe", false },
	{ "list-post", false },
	{ "list-owner", false },
	{ "list-archive", false },
};
#define SIGN_FIELDS (sizeof(sign_fields) / sizeof(sign_fields[0]))

/* Never prompt for a passphrase: encrypted keys are refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static EVP_PKEY *
pem_private_key(const char *pem, size_t len)
{
	EVP_PKEY *pk;
	BIO *bio;

	if (len > INT32_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	return pk;
}

struct dkim_signer *
dkim_signer_new(const char *domain, const char *selector,
    const char *key_pem, size_t pem_len, const char **error_r)
{
	struct dkim_signer *s = xcalloc(1, sizeof(*s));

	if (dkim_domain_copy(domain, strlen(domain), s->domain,
	    sizeof(s->domain)) < 0) {
		*error_r = "invalid signing domain";
		goto fail;
	}
	if (dkim_domain_copy(selector, strlen(selector), s->selector,
	    sizeof(s->selector)) < 0) {
		*error_r = "invalid selector";
		goto fail;
	}
	if ((s->pk = pem_private_key(key_pem, pem_len)) == NULL) {
		*error_r = "cannot read the private key (PEM)";
		goto fail;
	}
	switch (EVP_PKEY_get_base_id(s->pk)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(s->pk) < DKIM_RSA_BITS_MIN) {
			*error_r = "RSA key too small (RFC 8301)";
			goto fail;
		}
		s->alg = DKIM_ALG_RSA_SHA256;
		break;
	case EVP_PKEY_ED25519:
		s->alg = DKIM_ALG_ED25519_SHA256;
		break;
	default:
		*error_r = "key is neither RSA nor Ed25519";
		goto fail;
	}
	s->hcanon = s->bcanon = DKIM_CANON_RELAXED;
	s->ready = xcalloc(1, sizeof(*s->ready));
	if (pthread_mutex_init(&s->ready->lock, NULL) != 0) {
		free(s->ready);
		s->ready = NULL;
		*error_r = "cannot create the signer's lock";
		goto fail;
	}
	return s;
fail:
	dkim_signer_free(&s);
	return NULL;
}

void
dkim_signer_free(struct dkim_signer **sp)
{
	if (*sp == NULL)
		return;
	if ((*sp)->ready != NULL) {
		(void)pthread_mutex_destroy(&(*sp)->ready->lock);
		EVP_PKEY_CTX_free((*sp)->ready->pctx);
		EVP_MD_CTX_free((*sp)->ready->mctx);
		free((*sp)->ready);
	}
	EVP_PKEY_free((*sp)->pk);
	free(*sp);
	*sp = NULL;
}

void
dkim_signer_set_length_tag(struct dkim_signer *s, bool on)
{
	s->length_tag = on;
}

void
dkim_signer_set_canon(struct dkim_signer *s, enum dkim_canon header,
    enum dkim_canon body)
{
	s->hcanon = header;
	s->bcanon = body;
}

const char *
dkim_signer_algorithm(const struct dkim_signer *s)
{
	return s->alg == DKIM_ALG_RSA_SHA256 ? "rsa-sha256" :
	    "ed25519-sha256";
}

static void
sign_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct dkim_sign *g = ctx;
	int c;

	for (c = 0; c < 2; c++)
		if (g->body[c] != NULL)
			dkim_body_feed(g->body[c], p, n);
}

struct dkim_sign *
dkim_sign_new(struct dkim_signer *const *signers, size_t nsigners,
    time_t now)
{
	struct dkim_sign *g = xcalloc(1, sizeof(*g));
	size_t i;

	g->signers = signers;
	g->nsigners = nsigners;
	g->now = now;
	dkim_msg_init(&g->msg, sign_sink, g);
	for (i = 0; i < nsigners; i++) {
		enum dkim_canon c = signers[i]->bcanon;

		if (g->body[c] != NULL)
			continue;
		if ((g->bmd[c] = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(g->bmd[c], dkim_sha256(), NULL) != 1) {
			g->failed = true;
			continue;
		}
		g->body[c] = xmalloc(sizeof(*g->body[c]));
		dkim_body_init(g->body[c], c, g->bmd[c], false, 0);
	}
	return g;
}

void
dkim_sign_feed(struct dkim_sign *g, const void *p, size_t n)
{
	dkim_msg_feed(&g->msg, p, n);
}

void
dkim_sign_free(struct dkim_sign **gp)
{
	struct dkim_sign *g = *gp;
	int c;

	if (g == NULL)
		return;
	for (c = 0; c < 2; c++) {
		EVP_MD_CTX_free(g->bmd[c]);
		free(g->body[c]);
	}
	dkim_msg_deinit(&g->msg);
	free(g);
	*gp = NULL;
}

static const char *
canon_str(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

/* The h= list for this message: names present, over-signed ones once
 * more. Returns the number of items. */
static size_t
pick_headers(const struct dkim_msg *m, struct dkim_slice *h, size_t max)
{
	size_t i, k, n = 0, count;

	for (i = 0; i < SIGN_FIELDS; i++) {
		size_t len = strlen(sign_fields[i].name);

		count = sign_fields[i].over ? 1 : 0;
		for (k = 0; k < m->nfields; k++)
			if (dkim_field_is(m, &m->fields[k],
			    sign_fields[i].name, len))
				count++;
		for (k = 0; k < count && n < max; k++) {
			h[n].p = sign_fields[i].name;
			h[n].len = len;
			n++;
		}
	}
	return n;
}

/* Take the signer's ready context into *pctx or *mctx, or make one.
 * Returns 0 or -1. */
static int
sready_take(const struct dkim_signer *s, EVP_PKEY_CTX **pctx,
    EVP_MD_CTX **mctx)
{
	*pctx = NULL;
	*mctx = NULL;
	if (s->ready != NULL && pthread_mutex_lock(&s->ready->lock) == 0) {
		*pctx = s->ready->pctx;
		*mctx = s->ready->mctx;
		s->ready->pctx = NULL;
		s->ready->mctx = NULL;
		(void)pthread_mutex_unlock(&s->ready->lock);
	}
	if (s->alg == DKIM_ALG_RSA_SHA256) {
		if (*pctx != NULL)
			return 0;
		if ((*pctx = EVP_PKEY_CTX_new(s->pk, NULL)) == NULL)
			return -1;
		if (EVP_PKEY_sign_init(*pctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(*pctx,
		    RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(*pctx,
		    dkim_sha256()) != 1) {
			EVP_PKEY_CTX_free(*pctx);
			*pctx = NULL;
			return -1;
		}
		return 0;
	}
	if (*mctx != NULL) {
		/* A one-shot EVP_DigestSign() finalises the context: start
		 * it again on the same key (no fetch, no copy). */
		if (EVP_DigestSignInit(*mctx, NULL, NULL, NULL, NULL) == 1)
			return 0;
		EVP_MD_CTX_free(*mctx);
	}
	if ((*mctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit(*mctx, NULL, NULL, NULL, s->pk) != 1) {
		EVP_MD_CTX_free(*mctx);
		*mctx = NULL;
		return -1;
	}
	return 0;
}

/* Give a context back to the signer (when it has none), or free it. */
static void
sready_give(const struct dkim_signer *s, EVP_PKEY_CTX *pctx,
    EVP_MD_CTX *mctx)
{
	if (s->ready != NULL && pthread_mutex_lock(&s->ready->lock) == 0) {
		if (s->ready->pctx == NULL && s->ready->mctx == NULL) {
			s->ready->pctx = pctx;
			s->ready->mctx = mctx;
			pctx = NULL;
			mctx = NULL;
		}
		(void)pthread_mutex_unlock(&s->ready->lock);
	}
	EVP_PKEY_CTX_free(pctx);
	EVP_MD_CTX_free(mctx);
}

static int
sign_digest(const struct dkim_signer *s, const uint8_t *hash, uint8_t *sig,
    size_t *siglen)
{
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *mctx;
	int r;

	if (sready_take(s, &pctx, &mctx) < 0)
		return -1;
	if (s->alg == DKIM_ALG_RSA_SHA256)
		r = EVP_PKEY_sign(pctx, sig, siglen, hash, DKIM_SHA256_LEN);
	else
		r = EVP_DigestSign(mctx, sig, siglen, hash, DKIM_SHA256_LEN);
	if (r != 1) {
		/* Keep only contexts known to be in a good state. */
		EVP_PKEY_CTX_free(pctx);
		EVP_MD_CTX_free(mctx);
		return -1;
	}
	sready_give(s, pctx, mctx);
	return 0;
}

int
dkim_signer_sign_hash(const struct dkim_signer *s, const uint8_t *hash,
    uint8_t *sig, size_t *siglen)
{
	*siglen = DKIM_SIG_B_MAX;
	return sign_digest(s, hash, sig, siglen);
}

const char *
dkim_signer_domain(const struct dkim_signer *s)
{
	return s->domain;
}

const char *
dkim_signer_selector(const struct dkim_signer *s)
{
	return s->selector;
}

static int
sign_one(struct dkim_sign *g, const struct dkim_signer *s, const char *bh,
    struct dkim_slice *h, size_t hmax, struct buf *out, const char **error_r)
{
	struct buf f;
	char num[32];
	uint8_t hash[DKIM_SHA256_LEN], sig[DKIM_SIG_B_MAX];
	size_t nh, i, col, siglen = sizeof(sig);
	unsigned int hlen;
	EVP_MD_CTX *md;
	int r = 0, n;

	nh = pick_headers(&g->msg, h, hmax);
	buf_init(&f, DKIM_SIGN_FIELD_MAX);
	r |= buf_append_str(&f, "DKIM-Signature:");
	col = f.len;
	r |= dkim_fold_put(&f, &col, "v=1;", 4, true);
	r |= dkim_fold_put_fmt(&f, &col, "a=%s;", dkim_signer_algorithm(s));
	r |= dkim_fold_put_fmt(&f, &col, "c=%s/%s;", canon_str(s->hcanon),
	    canon_str(s->bcanon));
	r |= dkim_fold_put_fmt(&f, &col, "d=%s;", s->domain);
	r |= dkim_fold_put_fmt(&f, &col, "s=%s;", s->selector);
	n = snprintf(num, sizeof(num), "t=%" PRIu64 ";",
	    (uint64_t)(g->now < 0 ? 0 : g->now));
	if (n < 0 || (size_t)n >= sizeof(num))
		r = -1;
	else
		r |= dkim_fold_put(&f, &col, num, (size_t)n, true);
	for (i = 0; i < nh; i++) {
		/* "h=" or ":", the name (from sign_fields), ";" if last */
		char item[64];
		size_t ilen = i == 0 ? 2 : 1;

		if (h[i].len > sizeof(item) - 3) {
			r = -1;
			continue;
		}
		memcpy(item, i == 0 ? "h=" : ":", ilen);
		memcpy(item + ilen, h[i].p, h[i].len);
		ilen += h[i].len;
		if (i + 1 == nh)
			item[ilen++] = ';';
		r |= dkim_fold_put(&f, &col, item, ilen, i == 0);
	}
	if (s->length_tag)
		r |= dkim_fold_put_fmt(&f, &col, "l=%" PRIu64 ";",
		    g->body_len[s->bcanon]);
	r |= dkim_fold_put_fmt(&f, &col, "bh=%s;", bh);
	r |= dkim_fold_put(&f, &col, "b=", 2, true);
	if (r != 0) {
		*error_r = "signature field too long";
		goto fail;
	}
	/* Hash the listed fields, then this one with b= empty. */
	if ((md = EVP_MD_CTX_new()) == NULL) {
		*error_r = "out of memory (digest)";
		goto fail;
	}
	r = EVP_DigestInit_ex(md, dkim_sha256(), NULL) == 1 &&
	    dkim_hash_headers(&g->msg, h, nh, s->hcanon, SIZE_MAX,
	    (const char *)f.data, f.len, f.len, f.len, md) == 0 &&
	    EVP_DigestFinal_ex(md, hash, &hlen) == 1 &&
	    hlen == DKIM_SHA256_LEN;
	EVP_MD_CTX_free(md);
	if (!r || sign_digest(s, hash, sig, &siglen) < 0) {
		*error_r = "signing failed";
		goto fail;
	}
	r = dkim_fold_b(&f, col, sig, siglen);
	if (r != 0 || buf_append(out, f.data, f.len) < 0) {
		*error_r = "signature does not fit";
		goto fail;
	}
	buf_deinit(&f);
	return 0;
fail:
	buf_deinit(&f);
	return -1;
}

int
dkim_sign_end(struct dkim_sign *g, struct buf *out, const char **error_r)
{
	char bh[2][4 * ((DKIM_SHA256_LEN + 2) / 3) + 1];
	uint8_t md[EVP_MAX_MD_SIZE];
	struct dkim_slice *h;
	unsigned int mdlen;
	size_t i, hmax;
	int c, ret = 0;

	dkim_msg_split(&g->msg);
	if (g->failed) {
		*error_r = "digest failure";
		return -1;
	}
	if (g->msg.overflow) {
		*error_r = "header block too large to sign";
		return -1;
	}
	for (c = 0; c < 2; c++) {
		if (g->body[c] == NULL)
			continue;
		if (dkim_body_end(g->body[c]) < 0 ||
		    EVP_DigestFinal_ex(g->bmd[c], md, &mdlen) != 1 ||
		    mdlen != DKIM_SHA256_LEN) {
			*error_r = "digest failure";
			return -1;
		}
		(void)EVP_EncodeBlock((unsigned char *)bh[c], md, (int)mdlen);
		g->body_len[c] = g->body[c]->total;
		free(g->body[c]);
		g->body[c] = NULL;
	}
	/* Each field matches at most one name, and each name is listed at
	 * most once more than present: room for what pick_headers() can
	 * choose, not for DKIM_H_ITEMS_MAX. */
	hmax = SIGN_FIELDS + g->msg.nfields;
	if (hmax > DKIM_H_ITEMS_MAX)
		hmax = DKIM_H_ITEMS_MAX;
	h = xreallocarray(NULL, hmax, sizeof(*h));
	for (i = 0; i < g->nsigners && ret == 0; i++)
		ret = sign_one(g, g->signers[i], bh[g->signers[i]->bcanon], h,
		    hmax, out, error_r);
	free(h);
	return ret;
}

int
dkim_sign_message(struct dkim_signer *const *signers, size_t nsigners,
    const void *msg, size_t len, time_t now, struct buf *out,
    const char **error_r)
{
	struct dkim_sign *g = dkim_sign_new(signers, nsigners, now);
	int r;

	dkim_sign_feed(g, msg, len);
	r = dkim_sign_end(g, out, error_r);
	dkim_sign_free(&g);
	return r;
}

/*
 * Keys
 */

int
dkim_keygen(enum dkim_keytype type, char **pem_r, const char **error_r)
{
	EVP_PKEY *pk;
	BIO *bio;
	char *data;
	long len;

	if (type == DKIM_KEY_RSA)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)DKIM_KEYGEN_RSA_BITS);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL) {
		*error_r = "key generation failed";
		return -1;
	}
	/* secmem: the BIO's copy of the key is wiped when freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL,
	    NULL) != 1 || (len = BIO_get_mem_data(bio, &data)) <= 0) {
		BIO_free(bio);
		EVP_PKEY_free(pk);
		*error_r = "cannot write the private key";
		return -1;
	}
	*pem_r = xstrndup(data, (size_t)len);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return 0;
}

int
dkim_key_record(const char *key_pem, size_t pem_len, struct buf *out,
    const char **error_r)
{
	uint8_t raw[DKIM_KEY_P_MAX];
	char b64[4 * ((DKIM_KEY_P_MAX + 2) / 3) + 1];
	unsigned char *q = raw;
	size_t rawlen = sizeof(raw);
	EVP_PKEY *pk;
	const char *k;
	int n;

	if ((pk = pem_private_key(key_pem, pem_len)) == NULL) {
		*error_r = "cannot read the private key (PEM)";
		return -1;
	}
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA) {
		k = "rsa";
		n = i2d_PUBKEY(pk, NULL);
		if (n <= 0 || (size_t)n > sizeof(raw) ||
		    i2d_PUBKEY(pk, &q) != n) {
			EVP_PKEY_free(pk);
			*error_r = "cannot encode the public key";
			return -1;
		}
		rawlen = (size_t)n;
	} else if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
		k = "ed25519";
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1) {
			EVP_PKEY_free(pk);
			*error_r = "cannot encode the public key";
			return -1;
		}
	} else {
		EVP_PKEY_free(pk);
		*error_r = "key is neither RSA nor Ed25519";
		return -1;
	}
	EVP_PKEY_free(pk);
	(void)EVP_EncodeBlock((unsigned char *)b64, raw, (int)rawlen);
	if (buf_printf(out, "v=DKIM1; k=%s; p=%s", k, b64) < 0) {
		*error_r = "record too long";
		return -1;
	}
	return 0;
}

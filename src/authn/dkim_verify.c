/* dkim_verify: verifying the DKIM-Signature fields of a message (RFC 6376
 * 6, RFC 8301, RFC 8463). The header hash and the body hashes are computed
 * while the message streams in; the key record (from the dns module, or
 * given by the caller) only finishes the check. A signature whose body
 * hash already failed, or that is rsa-sha1 or out of its time window,
 * needs no DNS query. */
#include "dkim_private.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dns.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define DKIM_SHA256_LEN		32
#define DKIM_SIG_NAME		"DKIM-Signature"
#define DKIM_KEY_CACHE_MAX	64	/* parsed public keys kept */
#define DKIM_KEY_REC_MAX	4096	/* key record text kept in the cache */

/* A verification context ready for one key: OpenSSL 3 spends about as
 * much on setting one up (EVP_PKEY_CTX_new, the provider fetches, the
 * padding and digest parameters) as on hashing the whole message, and
 * a sixth of an RSA-2048 verification. RSA: pctx after
 * EVP_PKEY_verify_init with PKCS#1 padding and SHA-256; Ed25519: mctx
 * after EVP_DigestVerifyInit. */
struct vready {
	EVP_PKEY_CTX	*pctx;
	EVP_MD_CTX	*mctx;
};

/* What a key record says besides p= (struct dkim_key without the key):
 * the cache keeps it next to the record text. */
struct key_flags {
	enum dkim_keytype type;
	bool		 hash_sha256;
	bool		 service_email;
	bool		 testing;
	bool		 strict;
	bool		 revoked;
};

/* A key lent out of the cache (or made for it): references to the
 * decoded key and its RSA values, and a ready context. */
struct khandle {
	EVP_PKEY	*pk;
	struct dkim_rsa	*rsa;
	struct vready	 rd;
	unsigned	 bits;
};

/* Parsed public keys by their p= octets: OpenSSL's DER decoding costs
 * several times an RSA verification, and the same few keys sign most of
 * the mail. Replaced round-robin; shared by the threads of a process.
 * An entry also remembers the last key record text it came from (with
 * that record's flags), so a record seen before skips the tag parse,
 * the base64 decode and the DER compare. Each entry keeps one ready
 * context, lent out whole (taken out under the lock, used by one
 * thread, given back after): a thread that finds it lent makes its
 * own. */
static struct {
	uint8_t		*der;
	size_t		 len;
	int		 type;
	EVP_PKEY	*pk;
	unsigned	 bits;
	struct dkim_rsa	*rsa;
	struct vready	 ready;
	char		*rec;		/* NULL: none */
	size_t		 rec_len;
	uint64_t	 rec_hash;
	struct key_flags flags;
} key_cache[DKIM_KEY_CACHE_MAX];
static size_t key_cache_next;
static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;

struct dkim_vsig {
	struct dkim_verify *v;
	struct dkim_result res;
	struct dkim_sig	*sig;		/* NULL once final or unparsable */
	EVP_MD_CTX	*bmd;		/* body hash, while streaming */
	struct dkim_body *body;
	uint8_t		 hhash[DKIM_SHA256_LEN];	/* header hash */
	struct dns_query *q;
};

struct dkim_verify {
	struct dkim_verify_opts opts;
	struct dkim_msg	 msg;
	bool		 setup;
	bool		 ended;
	struct dkim_vsig *sigs;
	size_t		 nsigs;
	size_t		 pending;	/* DNS queries in flight */
	dkim_verify_cb	*cb;
	void		*cb_ctx;
};

static void
finish(struct dkim_vsig *s, enum dkim_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void body_sink(void *ctx, const uint8_t *p, size_t n);

/* Final result: drop the per-signature working state. */
static void
finish(struct dkim_vsig *s, enum dkim_status st, const char *fmt, ...)
{
	va_list ap;

	s->res.status = st;
	if (fmt != NULL) {
		va_start(ap, fmt);
		/* Truncation only shortens a fixed text. */
		(void)vsnprintf(s->res.reason, sizeof(s->res.reason), fmt, ap);
		va_end(ap);
	}
	free(s->sig);
	s->sig = NULL;
	EVP_MD_CTX_free(s->bmd);
	s->bmd = NULL;
	free(s->body);
	s->body = NULL;
}

struct dkim_verify *
dkim_verify_new(const struct dkim_verify_opts *opts)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));

	if (opts != NULL)
		v->opts = *opts;
	dkim_msg_init(&v->msg, body_sink, v);
	if (v->opts.now == 0)
		v->opts.now = time(NULL);
	if (v->opts.clock_skew == 0)
		v->opts.clock_skew = DKIM_CLOCK_SKEW;
	return v;
}

void
dkim_verify_free(struct dkim_verify **vp)
{
	struct dkim_verify *v = *vp;
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsigs; i++) {
		if (v->sigs[i].q != NULL)
			dns_cancel(v->sigs[i].q);
		finish(&v->sigs[i], v->sigs[i].res.status, NULL);
	}
	free(v->sigs);
	dkim_msg_deinit(&v->msg);
	free(v);
	*vp = NULL;
}

/* Checks that need neither key nor body. Returns 0 to go on, -1 when the
 * result is final. */
static int
precheck(struct dkim_verify *v, struct dkim_vsig *s)
{
	const struct dkim_sig *sig = s->sig;
	uint64_t now = (uint64_t)v->opts.now, skew = v->opts.clock_skew;

	if (sig->alg == DKIM_ALG_RSA_SHA1) {
		finish(s, DKIM_FAIL, "rsa-sha1 is not accepted (RFC 8301)");
		return -1;
	}
	if (sig->has_t && sig->t > now + skew) {
		finish(s, DKIM_FAIL, "signature timestamp in the future");
		return -1;
	}
	if (sig->has_x && sig->x + skew < now) {
		finish(s, DKIM_FAIL, "signature expired");
		return -1;
	}
	return 0;
}

static void
setup_sig(struct dkim_verify *v, struct dkim_vsig *s, size_t field)
{
	const struct dkim_field *f = &v->msg.fields[field];
	const char *text = (const char *)v->msg.hdr.data + f->off;
	const char *colon = memchr(text, ':', f->len);
	size_t voff = (size_t)(colon - text) + 1;
	const char *error;
	EVP_MD_CTX *hmd;
	struct dkim_sig *sig;
	unsigned int hlen;

	s->sig = sig = xmalloc(sizeof(*sig));
	if (dkim_sig_parse(text + voff, f->len - voff, sig, &error) < 0) {
		moat_strlcpy(s->res.domain, sig->domain,
		    sizeof(s->res.domain));
		moat_strlcpy(s->res.selector, sig->selector,
		    sizeof(s->res.selector));
		moat_strlcpy(s->res.algorithm, sig->alg_name,
		    sizeof(s->res.algorithm));
		moat_strlcpy(s->res.b, sig->b_prefix, sizeof(s->res.b));
		finish(s, DKIM_PERMERROR, "%s", error);
		return;
	}
	moat_strlcpy(s->res.domain, sig->domain, sizeof(s->res.domain));
	moat_strlcpy(s->res.selector, sig->selector, sizeof(s->res.selector));
	moat_strlcpy(s->res.algorithm, sig->alg_name,
	    sizeof(s->res.algorithm));
	moat_strlcpy(s->res.b, sig->b_prefix, sizeof(s->res.b));
	if (sig->auid.len > 0) {
		memcpy(s->res.auid, sig->auid.p, sig->auid.len);
		s->res.auid[sig->auid.len] = '\0';
	} else
		(void)snprintf(s->res.auid, sizeof(s->res.auid), "@%s",
		    sig->domain);
	if (precheck(v, s) < 0)
		return;
	/* One context for both hashes: initialised again with the same
	 * digest, OpenSSL keeps its provider state instead of making a new
	 * one (a context and its state cost as much as hashing a fifth
	 * of the bench message). finish() frees it on failure. */
	if ((hmd = s->bmd = EVP_MD_CTX_new()) == NULL)
		goto crypto;
	if (EVP_DigestInit_ex(hmd, dkim_sha256(), NULL) != 1 ||
	    dkim_hash_headers(&v->msg, sig->hdrs, sig->nhdrs, sig->hcanon,
	    field, text, f->len, voff + sig->b_value_start,
	    voff + sig->b_value_end, hmd) < 0 ||
	    EVP_DigestFinal_ex(hmd, s->hhash, &hlen) != 1 ||
	    hlen != DKIM_SHA256_LEN ||
	    EVP_DigestInit_ex(hmd, dkim_sha256(), NULL) != 1)
		goto crypto;
	s->body = xmalloc(sizeof(*s->body));
	dkim_body_init(s->body, sig->bcanon, s->bmd, sig->has_l, sig->l);
	return;
crypto:
	finish(s, DKIM_TEMPERROR, "internal hash failure");
}

static void
setup(struct dkim_verify *v)
{
	size_t i, n = 0;

	v->setup = true;
	dkim_msg_split(&v->msg);
	if (v->msg.overflow) {
		v->sigs = xcalloc(1, sizeof(*v->sigs));
		v->nsigs = 1;
		v->sigs[0].v = v;
		finish(&v->sigs[0], DKIM_PERMERROR, "header block too large");
		return;
	}
	for (i = 0; i < v->msg.nfields; i++)
		if (dkim_field_is(&v->msg, &v->msg.fields[i], DKIM_SIG_NAME,
		    strlen(DKIM_SIG_NAME)))
			n++;
	v->sigs = xcalloc(n + 1, sizeof(*v->sigs));
	for (i = 0; i < v->msg.nfields; i++) {
		struct dkim_vsig *s = &v->sigs[v->nsigs];

		if (!dkim_field_is(&v->msg, &v->msg.fields[i], DKIM_SIG_NAME,
		    strlen(DKIM_SIG_NAME)))
			continue;
		s->v = v;
		v->nsigs++;
		if (v->nsigs > DKIM_SIGS_MAX)
			finish(s, DKIM_NEUTRAL, "more than %d signatures, "
			    "not checked", DKIM_SIGS_MAX);
		else
			setup_sig(v, s, i);
	}
}

static void
body_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct dkim_verify *v = ctx;
	size_t i;

	if (!v->setup)
		setup(v);
	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].body != NULL)
			dkim_body_feed(v->sigs[i].body, p, n);
}

void
dkim_verify_feed(struct dkim_verify *v, const void *p, size_t n)
{
	if (v->ended)
		return;
	dkim_msg_feed(&v->msg, p, n);
	if (v->msg.in_body && !v->setup)
		setup(v);
}

static void
body_done(struct dkim_vsig *s)
{
	struct dkim_sig *sig = s->sig;
	struct dkim_body *b = s->body;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	if (dkim_body_end(b) < 0 ||
	    EVP_DigestFinal_ex(s->bmd, md, &mdlen) != 1) {
		finish(s, DKIM_TEMPERROR, "internal hash failure");
		return;
	}
	if (sig->has_l && b->total < sig->l) {
		finish(s, DKIM_FAIL, "body shorter than l=");
		return;
	}
	if (sig->has_l)
		s->res.unsigned_octets = b->total - sig->l;
	if (mdlen != sig->bhlen || memcmp(md, sig->bh, mdlen) != 0) {
		finish(s, DKIM_FAIL, "body hash mismatch");
		return;
	}
	s->res.body_hash_ok = true;
	EVP_MD_CTX_free(s->bmd);
	s->bmd = NULL;
	free(s->body);
	s->body = NULL;
}

size_t
dkim_verify_end(struct dkim_verify *v)
{
	size_t i;

	if (v->ended)
		return v->nsigs;
	if (!v->setup)
		setup(v);
	v->ended = true;
	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].body != NULL)
			body_done(&v->sigs[i]);
	return v->nsigs;
}

size_t
dkim_verify_count(const struct dkim_verify *v)
{
	return v->nsigs;
}

const struct dkim_result *
dkim_verify_result(const struct dkim_verify *v, size_t i)
{
	return i < v->nsigs ? &v->sigs[i].res : NULL;
}

int
dkim_verify_key_name(const struct dkim_verify *v, size_t i, char *name,
    size_t namelen)
{
	const struct dkim_vsig *s;
	int n;

	if (!v->ended || i >= v->nsigs)
		return -1;
	s = &v->sigs[i];
	if (s->sig == NULL || s->res.status != DKIM_NONE)
		return -1;
	n = snprintf(name, namelen, "%s._domainkey.%s", s->sig->selector,
	    s->sig->domain);
	if (n < 0 || (size_t)n >= namelen || n > DNS_NAME_TEXT_MAX)
		return -1;
	return 0;
}

void
dkim_verify_set_key_error(struct dkim_verify *v, size_t i,
    enum dkim_status status, const char *reason)
{
	if (i < v->nsigs && v->sigs[i].res.status == DKIM_NONE)
		finish(&v->sigs[i], status, "%s", reason);
}

static EVP_PKEY *
rsa_key(const uint8_t *p, size_t len)
{
	const unsigned char *q = p;
	EVP_PKEY *pk;

	if (len > LONG_MAX)
		return NULL;
	/* SubjectPublicKeyInfo, as everyone publishes; some records carry
	 * a bare PKCS#1 RSAPublicKey (what RFC 6376 3.6.1 literally says). */
	if ((pk = d2i_PUBKEY(NULL, &q, (long)len)) != NULL &&
	    q == p + len)
		return pk;
	EVP_PKEY_free(pk);
	q = p;
	if ((pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)len)) != NULL &&
	    q == p + len)
		return pk;
	EVP_PKEY_free(pk);
	return NULL;
}

static void
vready_free(struct vready *r)
{
	EVP_PKEY_CTX_free(r->pctx);
	r->pctx = NULL;
	EVP_MD_CTX_free(r->mctx);
	r->mctx = NULL;
}

/* Make r ready for pk (as for alg), unless it already is. Returns 0 or
 * -1. */
static int
vready_get(struct vready *r, EVP_PKEY *pk, enum dkim_alg alg)
{
	if (alg == DKIM_ALG_RSA_SHA256) {
		if (r->pctx != NULL)
			return 0;
		if ((r->pctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL)
			return -1;
		if (EVP_PKEY_verify_init(r->pctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(r->pctx,
		    RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(r->pctx,
		    dkim_sha256()) != 1) {
			vready_free(r);
			return -1;
		}
		return 0;
	}
	if (r->mctx != NULL) {
		/* A one-shot EVP_DigestVerify() finalises the context:
		 * start it again on the same key (no fetch, no copy). */
		if (EVP_DigestVerifyInit(r->mctx, NULL, NULL, NULL,
		    NULL) == 1)
			return 0;
		vready_free(r);
	}
	if ((r->mctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestVerifyInit(r->mctx, NULL, NULL, NULL, pk) != 1) {
		vready_free(r);
		return -1;
	}
	return 0;
}

/* Verify sig over the header hash with the key in kh: RSA through
 * dkim_rsa_verify when the key has its BN values, else with a context in
 * kh->rd (ready or made here; freed unless the check succeeded).
 * Returns 1 valid, 0 invalid, -1 error. */
static int
check_signature(struct khandle *kh, enum dkim_alg alg, const uint8_t *hash,
    const uint8_t *b, size_t blen)
{
	struct vready *rd = &kh->rd;
	int r;

	if (alg == DKIM_ALG_RSA_SHA256 && kh->rsa != NULL)
		return dkim_rsa_verify(kh->rsa, hash, b, blen);
	if (vready_get(rd, kh->pk, alg) < 0)
		return -1;
	if (alg == DKIM_ALG_RSA_SHA256)
		r = EVP_PKEY_verify(rd->pctx, b, blen, hash, DKIM_SHA256_LEN);
	else	/* Ed25519 over the SHA-256 of the data (RFC 8463 3). */
		r = EVP_DigestVerify(rd->mctx, b, blen, hash,
		    DKIM_SHA256_LEN);
	if (r != 1) {
		/* Keep only contexts known to be in a good state. */
		vready_free(rd);
		return 0;
	}
	return 1;
}

/*
 * Key cache
 */

/* FNV-1a over the record text, eight octets a step (a filter before the
 * full compare; it need not be strong). */
static uint64_t
rec_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, sizeof(w));
		h = (h ^ w) * 0x100000001b3ULL;
	}
	for (; len > 0; s++, len--)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

/* Lend entry i out into kh (under the lock). Returns 0, or -1 when the
 * key cannot be referenced. */
static int
key_cache_lend(size_t i, struct khandle *kh)
{
	if (EVP_PKEY_up_ref(key_cache[i].pk) != 1)
		return -1;
	kh->pk = key_cache[i].pk;
	kh->bits = key_cache[i].bits;
	kh->rsa = key_cache[i].rsa;
	if (kh->rsa != NULL)
		dkim_rsa_ref(kh->rsa);
	kh->rd = key_cache[i].ready;
	key_cache[i].ready.pctx = NULL;
	key_cache[i].ready.mctx = NULL;
	return 0;
}

/* The key of a record text seen before: its flags in *fl and the key
 * lent into kh. Returns 0, or -1 when not cached. */
static int
key_cache_get_rec(const char *rec, size_t len, uint64_t h,
    struct key_flags *fl, struct khandle *kh)
{
	size_t i;
	int r = -1;

	if (pthread_mutex_lock(&key_cache_lock) != 0)
		return -1;
	for (i = 0; i < DKIM_KEY_CACHE_MAX; i++)
		if (key_cache[i].rec != NULL && key_cache[i].rec_hash == h &&
		    key_cache[i].rec_len == len &&
		    memcmp(key_cache[i].rec, rec, len) == 0) {
			if ((r = key_cache_lend(i, kh)) == 0)
				*fl = key_cache[i].flags;
			break;
		}
	(void)pthread_mutex_unlock(&key_cache_lock);
	return r;
}

/* The cached key for these octets lent into kh. Returns 0, or -1 when
 * not cached. */
static int
key_cache_get(int type, const uint8_t *der, size_t len, struct khandle *kh)
{
	size_t i;
	int r = -1;

	if (pthread_mutex_lock(&key_cache_lock) != 0)
		return -1;
	for (i = 0; i < DKIM_KEY_CACHE_MAX; i++)
		if (key_cache[i].pk != NULL && key_cache[i].type == type &&
		    key_cache[i].len == len &&
		    memcmp(key_cache[i].der, der, len) == 0) {
			r = key_cache_lend(i, kh);
			break;
		}
	(void)pthread_mutex_unlock(&key_cache_lock);
	return r;
}

/* Keep the key in kh (a new entry unless it came from the cache), and
 * the record text with its flags when rec is not NULL. kh keeps its
 * references. */
static void
key_cache_add(int type, const uint8_t *der, size_t len, const char *rec,
    size_t rec_len, uint64_t h, const struct key_flags *fl,
    const struct khandle *kh)
{
	size_t i;

	if (pthread_mutex_lock(&key_cache_lock) != 0)
		return;
	for (i = 0; i < DKIM_KEY_CACHE_MAX; i++)
		if (key_cache[i].pk == kh->pk)
			goto found;	/* it came from here */
	if (EVP_PKEY_up_ref(kh->pk) != 1)
		goto out;
	i = key_cache_next++ % DKIM_KEY_CACHE_MAX;
	EVP_PKEY_free(key_cache[i].pk);
	dkim_rsa_unref(key_cache[i].rsa);
	vready_free(&key_cache[i].ready);
	free(key_cache[i].der);
	free(key_cache[i].rec);
	key_cache[i].rec = NULL;
	key_cache[i].der = xmemdup(der, len);
	key_cache[i].len = len;
	key_cache[i].type = type;
	key_cache[i].pk = kh->pk;
	key_cache[i].bits = kh->bits;
	key_cache[i].rsa = kh->rsa;
	if (kh->rsa != NULL)
		dkim_rsa_ref(kh->rsa);
found:
	if (rec != NULL && rec_len <= DKIM_KEY_REC_MAX &&
	    (key_cache[i].rec == NULL || key_cache[i].rec_hash != h ||
	    key_cache[i].rec_len != rec_len ||
	    memcmp(key_cache[i].rec, rec, rec_len) != 0)) {
		free(key_cache[i].rec);
		key_cache[i].rec = xmemdup(rec, rec_len);
		key_cache[i].rec_len = rec_len;
		key_cache[i].rec_hash = h;
		key_cache[i].flags = *fl;
	}
out:
	(void)pthread_mutex_unlock(&key_cache_lock);
}

/* Give kh back: its ready context to its entry when that is still
 * cached and has none; the rest is released. NULL-safe in kh->pk. */
static void
key_cache_release(struct khandle *kh)
{
	size_t i;

	if (kh->pk == NULL)
		return;
	if (pthread_mutex_lock(&key_cache_lock) == 0) {
		for (i = 0; i < DKIM_KEY_CACHE_MAX; i++)
			if (key_cache[i].pk == kh->pk) {
				if (key_cache[i].ready.pctx == NULL &&
				    key_cache[i].ready.mctx == NULL) {
					key_cache[i].ready = kh->rd;
					kh->rd.pctx = NULL;
					kh->rd.mctx = NULL;
				}
				break;
			}
		dkim_rsa_unref(kh->rsa);
		(void)pthread_mutex_unlock(&key_cache_lock);
	}
	/* (A failed lock leaks kh->rsa rather than race on its count.) */
	kh->rsa = NULL;
	vready_free(&kh->rd);
	EVP_PKEY_free(kh->pk);
	kh->pk = NULL;
}

/* Decode the p= key into kh (not cached yet). Returns 0, or -1 with
 * *error_r. */
static int
public_key(const struct dkim_key *key, struct khandle *kh,
    const char **error_r)
{
	EVP_PKEY *pk;

	if (key->type == DKIM_KEY_RSA) {
		if ((pk = rsa_key(key->p, key->plen)) == NULL ||
		    EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
			EVP_PKEY_free(pk);
			*error_r = "bad RSA public key";
			return -1;
		}
		kh->pk = pk;
		kh->bits = (unsigned)EVP_PKEY_get_bits(pk);
		kh->rsa = dkim_rsa_new(pk);
		return 0;
	}
	if (key->plen != 32 || (pk = EVP_PKEY_new_raw_public_key(
	    EVP_PKEY_ED25519, NULL, key->p, key->plen)) == NULL) {
		*error_r = "bad Ed25519 public key";
		return -1;
	}
	kh->pk = pk;
	kh->bits = 256;
	return 0;
}

int
dkim_key_verify(const struct dkim_key *key, enum dkim_alg alg,
    const uint8_t *hash, const uint8_t *b, size_t blen, unsigned *bits_r,
    const char **error_r)
{
	struct khandle kh = { NULL, NULL, { NULL, NULL }, 0 };
	int r;

	*bits_r = 0;
	if ((key->type == DKIM_KEY_RSA) != (alg == DKIM_ALG_RSA_SHA256)) {
		*error_r = "key type does not match a=";
		return -1;
	}
	if (key_cache_get(key->type, key->p, key->plen, &kh) < 0) {
		if (public_key(key, &kh, error_r) < 0)
			return -1;
		key_cache_add(key->type, key->p, key->plen, NULL, 0, 0, NULL,
		    &kh);
	}
	*bits_r = kh.bits;
	if (key->type == DKIM_KEY_RSA && *bits_r < DKIM_RSA_BITS_MIN) {
		key_cache_release(&kh);
		*error_r = "key is too small (RFC 8301)";
		return -1;
	}
	r = check_signature(&kh, alg, hash, b, blen);
	key_cache_release(&kh);
	if (r < 0)
		*error_r = "internal verify failure";
	return r;
}

/* What the key record's flags say about signature s. Returns 0 to go
 * on, -1 when the result is final. */
static int
key_flags_check(struct dkim_vsig *s, const struct key_flags *fl)
{
	const struct dkim_sig *sig = s->sig;

	s->res.testing = fl->testing;
	if (fl->revoked) {
		finish(s, DKIM_PERMERROR, "key revoked");
		return -1;
	}
	if (!fl->service_email) {
		finish(s, DKIM_PERMERROR, "key not for email (s=)");
		return -1;
	}
	if (!fl->hash_sha256) {
		finish(s, DKIM_PERMERROR, "key does not allow sha256 (h=)");
		return -1;
	}
	if ((fl->type == DKIM_KEY_RSA) != (sig->alg == DKIM_ALG_RSA_SHA256)) {
		finish(s, DKIM_PERMERROR, "key type does not match a=");
		return -1;
	}
	if (fl->strict && sig->auid_sub) {
		finish(s, DKIM_PERMERROR, "i= subdomain not allowed by key "
		    "(t=s)");
		return -1;
	}
	return 0;
}

/* Parse a key record not in the cache and decode its key into kh (from
 * the cache by its octets, or new); the record goes into the cache
 * with the key. Returns 0, or -1 with the result final. */
static int
key_from_record(struct dkim_vsig *s, const char *rec, size_t len,
    uint64_t h, struct key_flags *fl, struct khandle *kh)
{
	struct dkim_key *key = xmalloc(sizeof(*key));
	const char *error;
	int ret = -1;

	if (dkim_key_parse(rec, len, key, &error) < 0) {
		finish(s, DKIM_PERMERROR, "key record: %s", error);
		goto done;
	}
	fl->type = key->type;
	fl->hash_sha256 = key->hash_sha256;
	fl->service_email = key->service_email;
	fl->testing = key->testing;
	fl->strict = key->strict;
	fl->revoked = key->revoked;
	if (key_flags_check(s, fl) < 0)
		goto done;
	if (key_cache_get(key->type, key->p, key->plen, kh) < 0 &&
	    public_key(key, kh, &error) < 0) {
		finish(s, DKIM_PERMERROR, "%s", error);
		goto done;
	}
	key_cache_add(key->type, key->p, key->plen, rec, len, h, fl, kh);
	ret = 0;
done:
	free(key);
	return ret;
}

void
dkim_verify_set_key(struct dkim_verify *v, size_t i, const char *rec,
    size_t len)
{
	struct dkim_vsig *s;
	struct dkim_sig *sig;
	struct key_flags fl;
	struct khandle kh = { NULL, NULL, { NULL, NULL }, 0 };
	uint64_t h;
	int r;

	if (i >= v->nsigs || v->sigs[i].res.status != DKIM_NONE ||
	    v->sigs[i].sig == NULL)
		return;
	s = &v->sigs[i];
	sig = s->sig;
	h = rec_hash(rec, len);
	if (key_cache_get_rec(rec, len, h, &fl, &kh) == 0) {
		if (key_flags_check(s, &fl) < 0)
			goto done;
	} else if (key_from_record(s, rec, len, h, &fl, &kh) < 0)
		goto done;
	s->res.key_bits = kh.bits;
	if (fl.type == DKIM_KEY_RSA && s->res.key_bits < DKIM_RSA_BITS_MIN) {
		finish(s, DKIM_FAIL, "%u-bit key is too small (RFC 8301)",
		    s->res.key_bits);
		goto done;
	}
	r = check_signature(&kh, sig->alg, s->hhash, sig->b, sig->blen);
	if (r < 0)
		finish(s, DKIM_TEMPERROR, "internal verify failure");
	else if (r == 0)
		finish(s, DKIM_FAIL, "signature did not verify");
	else if (s->res.unsigned_octets > 0)
		finish(s, v->opts.reject_partial_body ? DKIM_POLICY :
		    DKIM_PASS, "body length limit leaves %" PRIu64
		    " octets unsigned%s", s->res.unsigned_octets,
		    fl.testing ? "; testing key (t=y)" : "");
	else
		finish(s, DKIM_PASS, fl.testing ? "testing key (t=y)" : NULL);
done:
	key_cache_release(&kh);
}

/*
 * DNS
 */

static void
lookup_done(const struct dns_result *res, void *ctx)
{
	struct dkim_vsig *s = ctx;
	struct dkim_verify *v = s->v;
	size_t i, k, pick = 0;

	s->q = NULL;
	k = (size_t)(s - v->sigs);
	switch (res->status) {
	case DNS_OK:
		if (res->count == 0) {
			finish(s, DKIM_PERMERROR, "no key record");
			break;
		}
		/* Several TXT records: the first that says it is DKIM. */
		for (i = 0; i < res->count; i++)
			if (res->txt[i].len >= 7 &&
			    memcmp(res->txt[i].s, "v=DKIM1", 7) == 0) {
				pick = i;
				break;
			}
		dkim_verify_set_key(v, k, res->txt[pick].s,
		    res->txt[pick].len);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		finish(s, DKIM_PERMERROR, "no key record");
		break;
	case DNS_TEMPFAIL:
		finish(s, DKIM_TEMPERROR, "key lookup failed temporarily");
		break;
	case DNS_PERMFAIL:
	default:
		finish(s, DKIM_PERMERROR, "key lookup failed");
		break;
	}
	if (--v->pending == 0 && v->cb != NULL)
		v->cb(v, v->cb_ctx);	/* may free v: nothing after this */
}

int
dkim_verify_lookup(struct dkim_verify *v, struct dns *dns,
    dkim_verify_cb *cb, void *ctx)
{
	char name[DNS_NAME_TEXT_MAX + 1];
	size_t i;

	if (!v->ended)
		(void)dkim_verify_end(v);
	v->cb = cb;
	v->cb_ctx = ctx;
	for (i = 0; i < v->nsigs; i++) {
		if (dkim_verify_key_name(v, i, name, sizeof(name)) < 0) {
			if (v->sigs[i].res.status == DKIM_NONE)
				finish(&v->sigs[i], DKIM_PERMERROR,
				    "key name too long");
			continue;
		}
		v->pending++;
		v->sigs[i].q = dns_query_txt(dns, name, lookup_done,
		    &v->sigs[i]);
	}
	return v->pending > 0 ? 1 : 0;
}

/*
 * Results
 */

const char *
dkim_status_name(enum dkim_status st)
{
	switch (st) {
	case DKIM_NONE:
		return "none";
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_NEUTRAL:
		return "neutral";
	case DKIM_POLICY:
		return "policy";
	case DKIM_TEMPERROR:
		return "temperror";
	case DKIM_PERMERROR:
		return "permerror";
	}
	return "none";
}

int
dkim_ar_format(const struct dkim_result *r, char *out, size_t outlen)
{
	struct buf b;
	const char *s;
	size_t i;
	bool quote = false;
	int ret = 0;

	buf_init(&b, outlen > 0 ? outlen - 1 : 0);
	if (outlen == 0)
		return -1;
	ret |= buf_printf(&b, "dkim=%s", dkim_status_name(r->status));
	if (r->reason[0] != '\0' || (r->key_bits > 0 &&
	    strcmp(r->algorithm, "rsa-sha256") == 0)) {
		ret |= buf_append_str(&b, " (");
		if (r->key_bits > 0 && strcmp(r->algorithm, "rsa-sha256") == 0)
			ret |= buf_printf(&b, "%u-bit key%s", r->key_bits,
			    r->reason[0] != '\0' ? "; " : "");
		ret |= buf_printf(&b, "%s)", r->reason);
	}
	if (r->domain[0] != '\0')
		ret |= buf_printf(&b, " header.d=%s", r->domain);
	if (r->auid[0] != '\0')
		ret |= buf_printf(&b, " header.i=%s", r->auid);
	if (r->selector[0] != '\0')
		ret |= buf_printf(&b, " header.s=%s", r->selector);
	if (r->algorithm[0] != '\0')
		ret |= buf_printf(&b, " header.a=%s", r->algorithm);
	if (r->b[0] != '\0') {
		/* '/' and '=' are tspecials (RFC 2045): quote. */
		for (i = 0; r->b[i] != '\0'; i++)
			if (r->b[i] == '/' || r->b[i] == '=')
				quote = true;
		ret |= buf_printf(&b, quote ? " header.b=\"%s\"" :
		    " header.b=%s", r->b);
	}
	if (ret != 0 || buf_cstr(&b, &s) < 0) {
		buf_deinit(&b);
		return -1;
	}
	memcpy(out, s, b.len + 1);
	buf_deinit(&b);
	return 0;
}

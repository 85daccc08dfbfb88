/* arc: ARC verification and sealing (RFC 8617 4, 5) on the DKIM module's
 * tag parser, canonicalizers, header hashing, key records and
 * signatures (dkim_private.h). The body is hashed once per
 * canonicalization while the message streams in; the header hashes are
 * computed when the key records are known. */
#include "arc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/dkim_private.h"
#include "buf.h"
#include "dns.h"
#include "util.h"
#include "xalloc.h"

#define ARC_SHA256_LEN		32
#define ARC_FIELD_MAX		(32 * 1024)	/* one produced field */
#define ARC_INST_DIGITS		2	/* i= up to ARC_SETS_MAX */

#define ARC_AAR			"ARC-Authentication-Results"
#define ARC_AMS			"ARC-Message-Signature"
#define ARC_AS			"ARC-Seal"

enum arc_cv {
	ARC_CV_NONE = 0,
	ARC_CV_PASS,
	ARC_CV_FAIL,
};

/* A parsed ARC-Message-Signature or ARC-Seal. */
struct arc_sig {
	unsigned	 inst;
	size_t		 field;		/* index in msg.fields */
	enum dkim_alg	 alg;
	enum dkim_canon	 hcanon;
	enum dkim_canon	 bcanon;
	enum arc_cv	 cv;		/* AS */
	char		 domain[DKIM_DOMAIN_MAX + 1];
	char		 selector[DKIM_SELECTOR_MAX + 1];
	size_t		 bstart;	/* b= value span in the field text */
	size_t		 bend;
	size_t		 key;		/* index in keys */
	size_t		 blen;
	size_t		 bhlen;
	size_t		 nhdrs;
	struct dkim_slice *hdrs;	/* AMS h= */
	uint8_t		 b[DKIM_SIG_B_MAX];
	uint8_t		 bh[DKIM_BH_MAX];
};

struct arc_set {
	size_t		 aar;		/* field indexes */
	unsigned	 naar;
	unsigned	 nams;
	unsigned	 nas;
	struct arc_sig	*ams;
	struct arc_sig	*as;
};

struct arc_key {
	char		 name[DNS_NAME_TEXT_MAX + 1];
	char		*rec;		/* NULL: none (yet) */
	size_t		 len;
	struct dns_query *q;
	struct arc_verify *v;
};

struct arc_verify {
	struct dkim_msg	 msg;
	EVP_MD_CTX	*bmd[2];
	struct dkim_body *body[2];
	uint8_t		 bh[2][ARC_SHA256_LEN];
	bool		 body_ok[2];
	bool		 ended;
	bool		 final;		/* res known without keys */
	struct arc_result res;
	unsigned	 n;
	struct arc_set	 sets[ARC_SETS_MAX + 1];	/* 1-based */
	struct arc_key	 keys[ARC_KEYS_MAX];
	size_t		 nkeys;
	size_t		 pending;
	arc_verify_cb	*cb;
	void		*cb_ctx;
};

/* A header field for the ARC-Seal hash: text (name: value, no final
 * CRLF), the b= span to leave out (cut_start == cut_end: none), and
 * whether a CRLF follows. */
struct arc_text {
	const char	*p;
	size_t		 len;
	size_t		 cut_start;
	size_t		 cut_end;
	bool		 crlf;
};

static void
set_fail(struct arc_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_fail(struct arc_result *r, const char *fmt, ...)
{
	va_list ap;

	r->status = ARC_FAIL;
	va_start(ap, fmt);
	/* Truncation only shortens a fixed text. */
	(void)vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static void
body_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct arc_verify *v = ctx;
	int c;

	for (c = 0; c < 2; c++)
		if (v->body[c] != NULL)
			dkim_body_feed(v->body[c], p, n);
}

struct arc_verify *
arc_verify_new(void)
{
	struct arc_verify *v = xcalloc(1, sizeof(*v));
	int c;

	dkim_msg_init(&v->msg, body_sink, v);
	for (c = 0; c < 2; c++) {
		if ((v->bmd[c] = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(v->bmd[c], dkim_sha256(), NULL) != 1)
			continue;
		v->body[c] = xmalloc(sizeof(*v->body[c]));
		dkim_body_init(v->body[c], (enum dkim_canon)c, v->bmd[c],
		    false, 0);
	}
	return v;
}

void
arc_verify_free(struct arc_verify **vp)
{
	struct arc_verify *v = *vp;
	size_t i;
	int c;

	if (v == NULL)
		return;
	for (i = 0; i < v->nkeys; i++) {
		if (v->keys[i].q != NULL)
			dns_cancel(v->keys[i].q);
		free(v->keys[i].rec);
	}
	for (i = 1; i <= ARC_SETS_MAX; i++) {
		if (v->sets[i].ams != NULL)
			free(v->sets[i].ams->hdrs);
		free(v->sets[i].ams);
		free(v->sets[i].as);
	}
	for (c = 0; c < 2; c++) {
		EVP_MD_CTX_free(v->bmd[c]);
		free(v->body[c]);
	}
	dkim_msg_deinit(&v->msg);
	free(v);
	*vp = NULL;
}

void
arc_verify_feed(struct arc_verify *v, const void *p, size_t n)
{
	if (!v->ended)
		dkim_msg_feed(&v->msg, p, n);
}

/*
 * Parsing
 */

static const char *
field_text(const struct dkim_msg *m, size_t i)
{
	return (const char *)m->hdr.data + m->fields[i].off;
}

/* Offset of the value (after the colon) in field i's text. */
static size_t
value_off(const struct dkim_msg *m, size_t i)
{
	const char *t = field_text(m, i);
	const char *colon = memchr(t, ':', m->fields[i].len);

	return colon != NULL ? (size_t)(colon - t) + 1 : m->fields[i].len;
}

static bool
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* i= as 1..ARC_SETS_MAX; 0 when bad. */
static unsigned
parse_inst(const char *p, size_t n)
{
	unsigned x = 0;
	size_t i;

	if (n == 0 || n > ARC_INST_DIGITS)
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		x = x * 10 + (unsigned)(p[i] - '0');
	}
	return x >= 1 && x <= ARC_SETS_MAX ? x : 0;
}

/* AAR: "i" *WSP "=" *WSP 1*DIGIT *WSP ";" at the start of the value. */
static unsigned
aar_inst(const char *v, size_t n)
{
	size_t i = 0, s;

	while (i < n && is_fws(v[i]))
		i++;
	if (i >= n || v[i] != 'i')
		return 0;
	for (i++; i < n && is_fws(v[i]); i++)
		;
	if (i >= n || v[i] != '=')
		return 0;
	for (i++; i < n && is_fws(v[i]); i++)
		;
	for (s = i; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		;
	if (i - s == 0)
		return 0;
	{
		unsigned inst = parse_inst(v + s, i - s);

		while (i < n && is_fws(v[i]))
			i++;
		return i < n && v[i] == ';' ? inst : 0;
	}
}

static bool
slice_is(const struct dkim_slice *s, const char *w)
{
	return s->len == strlen(w) && ascii_nieq(s->p, w, s->len);
}

static int
parse_canon(const struct dkim_slice *v, enum dkim_canon *h,
    enum dkim_canon *b)
{
	const char *slash = memchr(v->p, '/', v->len);
	struct dkim_slice hs = { v->p, slash ? (size_t)(slash - v->p) :
	    v->len };
	struct dkim_slice bs = { slash ? slash + 1 : "simple", slash ?
	    v->len - hs.len - 1 : 6 };

	if (slice_is(&hs, "relaxed"))
		*h = DKIM_CANON_RELAXED;
	else if (slice_is(&hs, "simple"))
		*h = DKIM_CANON_SIMPLE;
	else
		return -1;
	if (slice_is(&bs, "relaxed"))
		*b = DKIM_CANON_RELAXED;
	else if (slice_is(&bs, "simple"))
		*b = DKIM_CANON_SIMPLE;
	else
		return -1;
	return 0;
}

/* h= into sig->hdrs: names separated by ':' with FWS around. */
static int
parse_h(const struct dkim_slice *v, struct arc_sig *sig)
{
	size_t i = 0, n = 1, s, e;

	for (i = 0; i < v->len; i++)
		if (v->p[i] == ':')
			n++;
	if (n > DKIM_H_ITEMS_MAX)
		return -1;
	sig->hdrs = xcalloc(n, sizeof(*sig->hdrs));
	for (i = 0; i <= v->len; i++) {
		s = i;
		while (i < v->len && v->p[i] != ':')
			i++;
		e = i;
		while (s < e && is_fws(v->p[s]))
			s++;
		while (e > s && is_fws(v->p[e - 1]))
			e--;
		if (e == s)
			return -1;
		sig->hdrs[sig->nhdrs].p = v->p + s;
		sig->hdrs[sig->nhdrs].len = e - s;
		sig->nhdrs++;
	}
	return 0;
}

/* Parse field fi as an AMS (ams) or AS. Returns 0 or -1 with *error_r. */
static int
parse_sig(const struct dkim_msg *m, size_t fi, bool ams, struct arc_sig *sig,
    const char **error_r)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const char *text = field_text(m, fi);
	size_t voff = value_off(m, fi), k;
	bool has_a = false, has_b = false, has_bh = false, has_d = false,
	    has_s = false, has_h = false, has_cv = false;
	long dl;
	int nt;

	sig->field = fi;
	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	nt = dkim_tags_parse(text + voff, m->fields[fi].len - voff, tags,
	    DKIM_TAGS_MAX, error_r);
	if (nt < 0)
		return -1;
	for (k = 0; k < (size_t)nt; k++) {
		const struct dkim_slice *n = &tags[k].name, *val = &tags[k].value;

		if (slice_is(n, "i")) {
			sig->inst = parse_inst(val->p, val->len);
		} else if (slice_is(n, "a")) {
			has_a = true;
			if (slice_is(val, "rsa-sha256"))
				sig->alg = DKIM_ALG_RSA_SHA256;
			else if (slice_is(val, "ed25519-sha256"))
				sig->alg = DKIM_ALG_ED25519_SHA256;
			else {
				*error_r = "unsupported algorithm";
				return -1;
			}
		} else if (slice_is(n, "b")) {
			has_b = true;
			dl = dkim_base64_decode(val->p, val->len, sig->b,
			    sizeof(sig->b));
			if (dl <= 0) {
				*error_r = "bad b=";
				return -1;
			}
			sig->blen = (size_t)dl;
			sig->bstart = voff + tags[k].value_start;
			sig->bend = voff + tags[k].value_end;
		} else if (slice_is(n, "d")) {
			has_d = dkim_domain_copy(val->p, val->len, sig->domain,
			    sizeof(sig->domain)) == 0;
		} else if (slice_is(n, "s")) {
			has_s = dkim_domain_copy(val->p, val->len,
			    sig->selector, sizeof(sig->selector)) == 0;
		} else if (ams && slice_is(n, "bh")) {
			dl = dkim_base64_decode(val->p, val->len, sig->bh,
			    sizeof(sig->bh));
			has_bh = dl == ARC_SHA256_LEN;
			sig->bhlen = dl > 0 ? (size_t)dl : 0;
		} else if (ams && slice_is(n, "c")) {
			if (parse_canon(val, &sig->hcanon, &sig->bcanon) < 0) {
				*error_r = "bad c=";
				return -1;
			}
		} else if (ams && slice_is(n, "h")) {
			if (parse_h(val, sig) < 0) {
				*error_r = "bad h=";
				return -1;
			}
			has_h = true;
		} else if (ams && slice_is(n, "l")) {
			*error_r = "l= in an ARC-Message-Signature";
			return -1;
		} else if (!ams && slice_is(n, "cv")) {
			has_cv = true;
			if (slice_is(val, "none"))
				sig->cv = ARC_CV_NONE;
			else if (slice_is(val, "pass"))
				sig->cv = ARC_CV_PASS;
			else if (slice_is(val, "fail"))
				sig->cv = ARC_CV_FAIL;
			else
				has_cv = false;
		} else if (!ams && slice_is(n, "h")) {
			*error_r = "h= in an ARC-Seal";
			return -1;
		}
	}
	if (sig->inst == 0 || !has_a || !has_b || !has_d || !has_s ||
	    (ams && (!has_bh || !has_h)) || (!ams && !has_cv)) {
		*error_r = ams ? "ARC-Message-Signature lacks a tag" :
		    "ARC-Seal lacks a tag";
		return -1;
	}
	return 0;
}

static size_t
key_index(struct arc_verify *v, const struct arc_sig *sig)
{
	char name[DNS_NAME_TEXT_MAX + 1];
	size_t i;
	int n;

	n = snprintf(name, sizeof(name), "%s._domainkey.%s", sig->selector,
	    sig->domain);
	if (n < 0 || (size_t)n >= sizeof(name))
		return SIZE_MAX;
	for (i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].name, name) == 0)
			return i;
	if (v->nkeys == ARC_KEYS_MAX)
		return SIZE_MAX;
	moat_strlcpy(v->keys[v->nkeys].name, name, sizeof(v->keys[0].name));
	v->keys[v->nkeys].v = v;
	return v->nkeys++;
}

/* Steps 1-3 of RFC 8617 5.2. */
static void
structure(struct arc_verify *v)
{
	struct dkim_msg *m = &v->msg;
	struct arc_result *r = &v->res;
	const char *error = NULL;
	size_t i;
	unsigned k, inst;

	if (m->overflow) {
		set_fail(r, "header block too large");
		v->final = true;
		return;
	}
	for (i = 0; i < m->nfields; i++) {
		const struct dkim_field *f = &m->fields[i];
		int type;
		size_t vo;

		if (dkim_field_is(m, f, ARC_AAR, strlen(ARC_AAR)))
			type = 0;
		else if (dkim_field_is(m, f, ARC_AMS, strlen(ARC_AMS)))
			type = 1;
		else if (dkim_field_is(m, f, ARC_AS, strlen(ARC_AS)))
			type = 2;
		else
			continue;
		if (type == 0) {
			vo = value_off(m, i);
			inst = aar_inst(field_text(m, i) + vo, f->len - vo);
			if (inst == 0) {
				set_fail(r, "bad instance in %s", ARC_AAR);
				v->final = true;
				return;
			}
			v->sets[inst].naar++;
			v->sets[inst].aar = i;
		} else {
			struct arc_sig *sig = xcalloc(1, sizeof(*sig));

			if (parse_sig(m, i, type == 1, sig, &error) < 0) {
				free(sig->hdrs);
				free(sig);
				set_fail(r, "%s", error);
				v->final = true;
				return;
			}
			inst = sig->inst;
			if (type == 1) {
				if (v->sets[inst].nams++ > 0) {
					free(sig->hdrs);
					free(sig);
				} else
					v->sets[inst].ams = sig;
			} else {
				if (v->sets[inst].nas++ > 0)
					free(sig);
				else
					v->sets[inst].as = sig;
			}
		}
		if (inst > v->n)
			v->n = inst;
	}
	r->instance = v->n;
	if (v->n == 0) {
		r->status = ARC_NONE;
		v->final = true;
		return;
	}
	/* Step 2: the newest seal already says fail. */
	if (v->sets[v->n].as != NULL) {
		moat_strlcpy(r->domain, v->sets[v->n].as->domain,
		    sizeof(r->domain));
		if (v->sets[v->n].as->cv == ARC_CV_FAIL) {
			r->newest_cv_fail = true;
			set_fail(r, "newest ARC-Seal says cv=fail");
			v->final = true;
			return;
		}
	}
	/* Step 3: one of each per instance, 1..N, cv= none then pass. */
	for (k = 1; k <= v->n; k++) {
		const struct arc_set *s = &v->sets[k];

		if (s->naar != 1 || s->nams != 1 || s->nas != 1) {
			set_fail(r, "ARC set %u is incomplete or repeated", k);
			v->final = true;
			return;
		}
		if (s->as->cv != (k == 1 ? ARC_CV_NONE : ARC_CV_PASS)) {
			set_fail(r, "ARC-Seal %u has a wrong cv=", k);
			v->final = true;
			return;
		}
	}
	for (k = 1; k <= v->n; k++) {
		v->sets[k].ams->key = key_index(v, v->sets[k].ams);
		v->sets[k].as->key = key_index(v, v->sets[k].as);
		if (v->sets[k].ams->key == SIZE_MAX ||
		    v->sets[k].as->key == SIZE_MAX) {
			set_fail(r, "key name too long");
			v->final = true;
			return;
		}
	}
}

size_t
arc_verify_end(struct arc_verify *v)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	int c;

	if (v->ended)
		return v->final ? 0 : v->nkeys;
	v->ended = true;
	dkim_msg_split(&v->msg);
	for (c = 0; c < 2; c++) {
		if (v->body[c] == NULL)
			continue;
		if (dkim_body_end(v->body[c]) == 0 &&
		    EVP_DigestFinal_ex(v->bmd[c], md, &mdlen) == 1 &&
		    mdlen == ARC_SHA256_LEN) {
			memcpy(v->bh[c], md, mdlen);
			v->body_ok[c] = true;
		}
	}
	structure(v);
	return v->final ? 0 : v->nkeys;
}

const char *
arc_verify_key_name(const struct arc_verify *v, size_t i)
{
	return i < v->nkeys ? v->keys[i].name : NULL;
}

void
arc_verify_set_key(struct arc_verify *v, size_t i, const char *rec,
    size_t len)
{
	if (i >= v->nkeys)
		return;
	free(v->keys[i].rec);
	v->keys[i].rec = rec != NULL ? xmemdup(rec, len) : NULL;
	v->keys[i].len = rec != NULL ? len : 0;
}

/*
 * Hashing and checking
 */

/* SHA-256 over texts, canonicalized relaxed (the ARC-Seal hash,
 * 5.1.1). Returns 0 or -1. */
static int
hash_texts(const struct arc_text *t, size_t n, uint8_t *hash)
{
	struct buf cut, out;
	EVP_MD_CTX *md;
	unsigned int hlen;
	size_t i;
	int ok = 0;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	buf_init(&cut, DKIM_SIG_FIELD_MAX);
	buf_init(&out, DKIM_SIG_FIELD_MAX * 2);
	if (EVP_DigestInit_ex(md, dkim_sha256(), NULL) != 1)
		goto done;
	for (i = 0; i < n; i++) {
		buf_reset(&cut);
		buf_reset(&out);
		if (buf_append(&cut, t[i].p, t[i].cut_start) < 0 ||
		    buf_append(&cut, t[i].p + t[i].cut_end,
		    t[i].len - t[i].cut_end) < 0 ||
		    dkim_canon_header(DKIM_CANON_RELAXED,
		    (const char *)cut.data, cut.len, t[i].crlf, &out) < 0 ||
		    (out.len > 0 && EVP_DigestUpdate(md, out.data,
		    out.len) != 1))
			goto done;
	}
	ok = EVP_DigestFinal_ex(md, hash, &hlen) == 1 &&
	    hlen == ARC_SHA256_LEN;
done:
	buf_deinit(&cut);
	buf_deinit(&out);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static struct arc_text
field_as_text(const struct dkim_msg *m, size_t fi, bool crlf)
{
	struct arc_text t = { field_text(m, fi), m->fields[fi].len, 0, 0,
	    crlf };

	return t;
}

/* The ARC-Seal hash for AS k: sets 1..k, AS k without b= and CRLF. */
static int
hash_seal(const struct arc_verify *v, unsigned k, uint8_t *hash)
{
	struct arc_text *t = xcalloc(3 * ARC_SETS_MAX, sizeof(*t));
	size_t n = 0;
	unsigned i;
	int r;

	for (i = 1; i <= k; i++) {
		const struct arc_set *s = &v->sets[i];

		t[n++] = field_as_text(&v->msg, s->aar, true);
		t[n++] = field_as_text(&v->msg, s->ams->field, true);
		t[n] = field_as_text(&v->msg, s->as->field, i < k);
		if (i == k) {
			t[n].cut_start = s->as->bstart;
			t[n].cut_end = s->as->bend;
		}
		n++;
	}
	r = hash_texts(t, n, hash);
	free(t);
	return r;
}

/* Check sig over hash with its key. Returns 0 valid, or -1 with a
 * reason. */
static int
check(const struct arc_verify *v, const struct arc_sig *sig,
    const uint8_t *hash, const char **why)
{
	const struct arc_key *k = &v->keys[sig->key];
	struct dkim_key *key;
	unsigned bits;
	int r = -1;

	if (k->rec == NULL) {
		*why = "no key";
		return -1;
	}
	key = xmalloc(sizeof(*key));
	if (dkim_key_parse(k->rec, k->len, key, why) < 0)
		goto done;
	if (key->revoked) {
		*why = "key revoked";
		goto done;
	}
	if (!key->service_email || !key->hash_sha256) {
		*why = "key not usable (s= or h=)";
		goto done;
	}
	switch (dkim_key_verify(key, sig->alg, hash, sig->b, sig->blen, &bits,
	    why)) {
	case 1:
		r = 0;
		break;
	case 0:
		*why = "signature did not verify";
		break;
	default:
		break;
	}
done:
	free(key);
	return r;
}

/* Verify AMS k. Returns 0 or -1 with a reason. */
static int
check_ams(const struct arc_verify *v, unsigned k, const char **why)
{
	const struct arc_sig *s = v->sets[k].ams;
	uint8_t hash[ARC_SHA256_LEN];
	unsigned int hlen;
	EVP_MD_CTX *md;
	int ok;

	if (!v->body_ok[s->bcanon] || s->bhlen != ARC_SHA256_LEN ||
	    memcmp(v->bh[s->bcanon], s->bh, ARC_SHA256_LEN) != 0) {
		*why = "body hash mismatch";
		return -1;
	}
	if ((md = EVP_MD_CTX_new()) == NULL) {
		*why = "internal hash failure";
		return -1;
	}
	ok = EVP_DigestInit_ex(md, dkim_sha256(), NULL) == 1 &&
	    dkim_hash_headers(&v->msg, s->hdrs, s->nhdrs, s->hcanon, s->field,
	    field_text(&v->msg, s->field), v->msg.fields[s->field].len,
	    s->bstart, s->bend, md) == 0 &&
	    EVP_DigestFinal_ex(md, hash, &hlen) == 1 &&
	    hlen == ARC_SHA256_LEN;
	EVP_MD_CTX_free(md);
	if (!ok) {
		*why = "internal hash failure";
		return -1;
	}
	return check(v, s, hash, why);
}

void
arc_verify_result(struct arc_verify *v, struct arc_result *r)
{
	uint8_t hash[ARC_SHA256_LEN];
	const char *why = "";
	unsigned k;

	if (!v->ended)
		(void)arc_verify_end(v);
	*r = v->res;
	if (v->final)
		return;
	/* Step 4: the newest AMS. */
	if (check_ams(v, v->n, &why) < 0) {
		set_fail(r, "ARC-Message-Signature %u: %s", v->n, why);
		return;
	}
	/* Step 5: oldest-pass. */
	r->oldest_pass = 0;
	for (k = v->n - 1; k >= 1; k--)
		if (check_ams(v, k, &why) < 0) {
			r->oldest_pass = k + 1;
			break;
		}
	/* Step 6: every seal, newest first. */
	for (k = v->n; k >= 1; k--) {
		if (hash_seal(v, k, hash) < 0) {
			set_fail(r, "internal hash failure");
			return;
		}
		if (check(v, v->sets[k].as, hash, &why) < 0) {
			set_fail(r, "ARC-Seal %u: %s", k, why);
			return;
		}
	}
	r->status = ARC_PASS;
	r->reason[0] = '\0';
}

/*
 * DNS
 */

static void
key_done(const struct dns_result *res, void *ctx)
{
	struct arc_key *k = ctx;
	struct arc_verify *v = k->v;
	size_t i, pick = 0;

	k->q = NULL;
	if (res->status == DNS_OK && res->count > 0) {
		for (i = 0; i < res->count; i++)
			if (res->txt[i].len >= 7 &&
			    memcmp(res->txt[i].s, "v=DKIM1", 7) == 0) {
				pick = i;
				break;
			}
		arc_verify_set_key(v, (size_t)(k - v->keys),
		    res->txt[pick].s, res->txt[pick].len);
	}
	/* anything else: no key; all ARC errors are permanent (5.2.1) */
	if (--v->pending == 0 && v->cb != NULL)
		v->cb(v, v->cb_ctx);	/* may free v */
}

int
arc_verify_lookup(struct arc_verify *v, struct dns *dns, arc_verify_cb *cb,
    void *ctx)
{
	size_t i, n = arc_verify_end(v);

	v->cb = cb;
	v->cb_ctx = ctx;
	for (i = 0; i < n; i++) {
		if (v->keys[i].rec != NULL)
			continue;
		v->pending++;
		v->keys[i].q = dns_query_txt(dns, v->keys[i].name, key_done,
		    &v->keys[i]);
	}
	return v->pending > 0 ? 1 : 0;
}

/*
 * Results
 */

const char *
arc_status_name(enum arc_status st)
{
	switch (st) {
	case ARC_NONE:
		return "none";
	case ARC_PASS:
		return "pass";
	case ARC_FAIL:
		return "fail";
	}
	return "none";
}

int
arc_ar_format(const struct arc_result *r, char *out, size_t outlen)
{
	int n;

	if (r->status == ARC_PASS)
		n = snprintf(out, outlen, "arc=pass (i=%u) "
		    "header.oldest-pass=%u", r->instance, r->oldest_pass);
	else if (r->status == ARC_FAIL)
		n = snprintf(out, outlen, "arc=fail (%s)", r->reason);
	else
		n = snprintf(out, outlen, "arc=none");
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * Sealing (5.1)
 */

/* Header fields the AMS signs when present (RFC 6376 5.4.1 and the
 * DKIM-Signature fields: never ARC fields, 4.1.2). */
static const char *const ams_fields[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"sender", "in-reply-to", "references", "mime-version",
	"content-type", "content-transfer-encoding", "list-id", "list-post",
	"list-help", "list-unsubscribe", "list-unsubscribe-post",
	"list-subscribe", "list-owner", "list-archive", "dkim-signature",
};
#define AMS_FIELDS (sizeof(ams_fields) / sizeof(ams_fields[0]))

/* Sign hash and append b= (folded) and CRLF to f. */
static int
put_b(const struct dkim_signer *signer, const uint8_t *hash, struct buf *f,
    size_t col)
{
	uint8_t sig[DKIM_SIG_B_MAX];
	size_t siglen;

	if (dkim_signer_sign_hash(signer, hash, sig, &siglen) < 0)
		return -1;
	return dkim_fold_b(f, col, sig, siglen);
}

static int
make_ams(const struct dkim_signer *signer, const struct arc_verify *v,
    unsigned inst, time_t now, struct buf *f)
{
	struct dkim_slice *h;
	char bh[4 * ((ARC_SHA256_LEN + 2) / 3) + 1];
	uint8_t hash[ARC_SHA256_LEN];
	size_t i, k, nh = 0, col;
	unsigned int hlen;
	EVP_MD_CTX *md;
	int r = 0, ok;

	h = xcalloc(DKIM_H_ITEMS_MAX, sizeof(*h));
	for (i = 0; i < AMS_FIELDS; i++)
		for (k = 0; k < v->msg.nfields && nh < DKIM_H_ITEMS_MAX; k++)
			if (dkim_field_is(&v->msg, &v->msg.fields[k],
			    ams_fields[i], strlen(ams_fields[i]))) {
				h[nh].p = ams_fields[i];
				h[nh].len = strlen(ams_fields[i]);
				nh++;
			}
	(void)EVP_EncodeBlock((unsigned char *)bh,
	    v->bh[DKIM_CANON_RELAXED], ARC_SHA256_LEN);
	r |= buf_append_str(f, ARC_AMS ":");
	col = f->len;
	r |= dkim_fold_put_fmt(f, &col, "i=%u;", inst);
	r |= dkim_fold_put_fmt(f, &col, "a=%s;", dkim_signer_algorithm(signer));
	r |= dkim_fold_put(f, &col, "c=relaxed/relaxed;", 18, true);
	r |= dkim_fold_put_fmt(f, &col, "d=%s;", dkim_signer_domain(signer));
	r |= dkim_fold_put_fmt(f, &col, "s=%s;", dkim_signer_selector(signer));
	r |= dkim_fold_put_fmt(f, &col, "t=%lld;", (long long)now);
	for (i = 0; i < nh; i++) {
		char item[64];
		int n = snprintf(item, sizeof(item), "%s%.*s%s",
		    i == 0 ? "h=" : ":", (int)h[i].len, h[i].p,
		    i + 1 == nh ? ";" : "");

		if (n < 0 || (size_t)n >= sizeof(item))
			r = -1;
		else
			r |= dkim_fold_put(f, &col, item, (size_t)n, i == 0);
	}
	r |= dkim_fold_put_fmt(f, &col, "bh=%s;", bh);
	r |= dkim_fold_put(f, &col, "b=", 2, true);
	if (r != 0 || nh == 0 || (md = EVP_MD_CTX_new()) == NULL) {
		free(h);
		return -1;
	}
	ok = EVP_DigestInit_ex(md, dkim_sha256(), NULL) == 1 &&
	    dkim_hash_headers(&v->msg, h, nh, DKIM_CANON_RELAXED, SIZE_MAX,
	    (const char *)f->data, f->len, f->len, f->len, md) == 0 &&
	    EVP_DigestFinal_ex(md, hash, &hlen) == 1 &&
	    hlen == ARC_SHA256_LEN;
	EVP_MD_CTX_free(md);
	free(h);
	if (!ok)
		return -1;
	return put_b(signer, hash, f, col);
}

/* A field value: CR only in CRLF, and every CRLF followed by WSP. */
static bool
valid_value(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return false;
		if (s[i] == '\r' && (s[i + 1] != '\n' ||
		    (s[i + 2] != ' ' && s[i + 2] != '\t')))
			return false;
	}
	return true;
}

int
arc_seal(const struct dkim_signer *signer, const void *msg, size_t len,
    const struct arc_result *chain, const char *ar_value, time_t now,
    struct buf *out, const char **error_r)
{
	struct arc_text *t;
	struct buf aar, ams, as;
	struct arc_verify *v;
	uint8_t hash[ARC_SHA256_LEN];
	unsigned inst = chain->instance + 1, k;
	size_t n = 0, col;
	const char *cv;
	int r = 0, ret = -1;

	if (chain->status != ARC_NONE && chain->newest_cv_fail)
		return 1;
	if (inst > ARC_SETS_MAX) {
		*error_r = "too many ARC sets";
		return -1;
	}
	if (!valid_value(ar_value)) {
		*error_r = "bad Authentication-Results value";
		return -1;
	}
	if (chain->status == ARC_NONE && chain->instance != 0) {
		*error_r = "chain result does not match";
		return -1;
	}
	cv = chain->status == ARC_PASS ? "pass" : chain->status == ARC_FAIL ?
	    "fail" : "none";
	t = xcalloc(3 * ARC_SETS_MAX + 3, sizeof(*t));
	v = arc_verify_new();
	arc_verify_feed(v, msg, len);
	(void)arc_verify_end(v);
	buf_init(&aar, ARC_FIELD_MAX);
	buf_init(&ams, ARC_FIELD_MAX);
	buf_init(&as, ARC_FIELD_MAX);
	if (v->msg.overflow || !v->body_ok[DKIM_CANON_RELAXED]) {
		*error_r = "message header too large";
		goto done;
	}
	/* The chain as received must be the chain of this message. */
	if (chain->status == ARC_PASS && (v->n != chain->instance ||
	    v->final)) {
		*error_r = "message does not hold the verified chain";
		goto done;
	}
	if (buf_printf(&aar, ARC_AAR ": i=%u; %s", inst, ar_value) < 0) {
		*error_r = "Authentication-Results value too long";
		goto done;
	}
	if (make_ams(signer, v, inst, now, &ams) < 0) {
		*error_r = "cannot make the ARC-Message-Signature";
		goto done;
	}
	r |= buf_append_str(&as, ARC_AS ":");
	col = as.len;
	r |= dkim_fold_put_fmt(&as, &col, "i=%u;", inst);
	r |= dkim_fold_put_fmt(&as, &col, "a=%s;", dkim_signer_algorithm(signer));
	r |= dkim_fold_put_fmt(&as, &col, "cv=%s;", cv);
	r |= dkim_fold_put_fmt(&as, &col, "d=%s;", dkim_signer_domain(signer));
	r |= dkim_fold_put_fmt(&as, &col, "s=%s;", dkim_signer_selector(signer));
	r |= dkim_fold_put_fmt(&as, &col, "t=%lld;", (long long)now);
	r |= dkim_fold_put(&as, &col, "b=", 2, true);
	if (r != 0) {
		*error_r = "ARC-Seal too long";
		goto done;
	}
	/* 5.1.1: sets 1..i-1 then ours; 5.1.2: ours only after a fail. */
	if (chain->status == ARC_PASS)
		for (k = 1; k < inst; k++) {
			t[n++] = field_as_text(&v->msg, v->sets[k].aar, true);
			t[n++] = field_as_text(&v->msg,
			    v->sets[k].ams->field, true);
			t[n++] = field_as_text(&v->msg, v->sets[k].as->field,
			    true);
		}
	t[n].p = (const char *)aar.data;
	t[n].len = aar.len;
	t[n].cut_start = t[n].cut_end = 0;
	t[n++].crlf = true;
	t[n].p = (const char *)ams.data;
	t[n].len = ams.len - 2;		/* without its CRLF */
	t[n].cut_start = t[n].cut_end = 0;
	t[n++].crlf = true;
	t[n].p = (const char *)as.data;
	t[n].len = as.len;
	t[n].cut_start = t[n].cut_end = as.len;
	t[n++].crlf = false;
	if (hash_texts(t, n, hash) < 0 || put_b(signer, hash, &as, col) < 0 ||
	    buf_append(&aar, "\r\n", 2) < 0) {
		*error_r = "cannot make the ARC-Seal";
		goto done;
	}
	if (buf_append(out, as.data, as.len) < 0 ||
	    buf_append(out, ams.data, ams.len) < 0 ||
	    buf_append(out, aar.data, aar.len) < 0) {
		*error_r = "ARC set does not fit";
		goto done;
	}
	ret = 0;
done:
	buf_deinit(&aar);
	buf_deinit(&ams);
	buf_deinit(&as);
	arc_verify_free(&v);
	free(t);
	return ret;
}

/* dkim_parse: the tag=value lists of DKIM (RFC 6376 3.2): the
 * DKIM-Signature field value (3.5) and the DNS key record (3.6.1), plus
 * the strict base64 and domain helpers they need. Pure: no I/O, no
 * allocation; every list is bounded (DKIM_TAGS_MAX, DKIM_H_ITEMS_MAX). */
#include "dkim_private.h"

#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "util.h"

/* WSP, or CRLF followed by WSP (FWS, RFC 5322 3.2.2). Returns the length
 * of the FWS at s[i] (0 if none). */
static size_t
fws_len(const char *s, size_t len, size_t i)
{
	size_t j = i;

	for (;;) {
		if (j < len && (s[j] == ' ' || s[j] == '\t'))
			j++;
		else if (j + 2 < len && s[j] == '\r' && s[j + 1] == '\n' &&
		    (s[j + 2] == ' ' || s[j + 2] == '\t'))
			j += 3;
		else
			return j - i;
	}
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* VALCHAR = %x21-3A / %x3C-7E */
static bool
is_valchar(char c)
{
	unsigned char u = (unsigned char)c;

	return u >= 0x21 && u <= 0x7e && u != ';';
}

/* The end of the run of VALCHAR starting at s[i]: sixteen octets at a
 * time where SSE2 is there (b= and bh= are long runs). */
static size_t
valchar_run(const char *s, size_t len, size_t i)
{
#ifdef __SSE2__
	while (len - i >= 16) {
		const __m128i x = _mm_loadu_si128((const void *)(s + i));
		/* Signed compares: octets >= 0x80 are below 0x21. */
		const __m128i ok = _mm_andnot_si128(
		    _mm_cmpeq_epi8(x, _mm_set1_epi8(';')), _mm_and_si128(
		    _mm_cmpgt_epi8(x, _mm_set1_epi8(0x20)),
		    _mm_cmplt_epi8(x, _mm_set1_epi8(0x7f))));
		unsigned m = (unsigned)_mm_movemask_epi8(ok);

		if (m != 0xffffu)
			return i + (size_t)__builtin_ctz(~m);
		i += 16;
	}
#endif
	while (i < len && is_valchar(s[i]))
		i++;
	return i;
}

static bool
slice_is(const struct dkim_slice *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->len == n && memcmp(s->p, lit, n) == 0;
}

static bool
slice_ieq(const struct dkim_slice *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->len == n && ascii_nieq(s->p, lit, n);
}

/*
 * tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 * tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 * tag-name  =  ALPHA *ALNUMPUNC
 * tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
 * tval      =  1*VALCHAR
 */
int
dkim_tags_parse(const char *s, size_t len, struct dkim_tag *tags,
    size_t max, const char **error_r)
{
	size_t i = 0, n = 0, k, end;

	for (;;) {
		i += fws_len(s, len, i);
		if (i == len)
			return (int)n;	/* empty list, or after a ';' */
		if (!is_alpha(s[i])) {
			*error_r = "bad tag name";
			return -1;
		}
		if (n == max) {
			*error_r = "too many tags";
			return -1;
		}
		tags[n].name.p = s + i;
		while (i < len && (is_alpha(s[i]) || is_digit(s[i]) ||
		    s[i] == '_'))
			i++;
		tags[n].name.len = (size_t)(s + i - tags[n].name.p);
		i += fws_len(s, len, i);
		if (i == len || s[i] != '=') {
			*error_r = "tag without '='";
			return -1;
		}
		i++;
		tags[n].value_start = i;
		i += fws_len(s, len, i);
		tags[n].value.p = s + i;
		end = i;	/* end of the last tval */
		while (i < len && s[i] != ';') {
			size_t w;

			/* VALCHAR excludes WSP and CR: FWS only after it. */
			if (is_valchar(s[i])) {
				i = valchar_run(s, len, i + 1);
				end = i;
				continue;
			}
			if ((w = fws_len(s, len, i)) == 0) {
				*error_r = "bad character in tag value";
				return -1;
			}
			i += w;
		}
		tags[n].value.len = (size_t)(s + end - tags[n].value.p);
		tags[n].value_end = i;
		for (k = 0; k < n; k++)
			if (tags[k].name.len == tags[n].name.len &&
			    memcmp(tags[k].name.p, tags[n].name.p,
			    tags[n].name.len) == 0) {
				*error_r = "duplicate tag";
				return -1;
			}
		n++;
		if (i == len)
			return (int)n;
		i++;	/* ';' */
	}
}

/* base64: 1 + the value of each alphabet octet; B64_SKIP for the
 * whitespace FWS may leave, B64_PAD for '=', 0 for the rest. */
#define B64_SKIP	65
#define B64_PAD		66

static const uint8_t b64_table[256] = {
	[' '] = B64_SKIP, ['\t'] = B64_SKIP, ['\r'] = B64_SKIP,
	['\n'] = B64_SKIP, ['='] = B64_PAD,
	['A'] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
	18, 19, 20, 21, 22, 23, 24, 25, 26,
	['a'] = 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
	42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,
	['0'] = 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
	['+'] = 63, ['/'] = 64,
};

static bool
is_b64(char c)
{
	uint8_t v = b64_table[(uint8_t)c];

	return v > 0 && v < B64_SKIP;
}

/* The sextet of an alphabet octet; 64 or more for any other. */
static inline uint8_t
b64_sextet(char c)
{
	return (uint8_t)(b64_table[(uint8_t)c] - 1);
}

long
dkim_base64_decode(const char *s, size_t len, uint8_t *out, size_t outlen)
{
	uint32_t acc = 0;
	size_t i, o = 0, nchars = 0, pad = 0;

	for (i = 0; i < len; i++) {
		uint8_t v;

		/* At a quantum boundary, groups of four alphabet octets all
		 * at once (table value - 1 is the sextet; whitespace, '='
		 * and other octets give 64 or more). */
		if (nchars % 4 == 0 && pad == 0) {
			while (len - i >= 4 && o + 3 <= outlen) {
				uint8_t d0 = b64_sextet(s[i]);
				uint8_t d1 = b64_sextet(s[i + 1]);
				uint8_t d2 = b64_sextet(s[i + 2]);
				uint8_t d3 = b64_sextet(s[i + 3]);

				if (((d0 | d1 | d2 | d3) & 0xc0) != 0)
					break;
				acc = (uint32_t)d0 << 18 | (uint32_t)d1 << 12 |
				    (uint32_t)d2 << 6 | (uint32_t)d3;
				out[o++] = (uint8_t)(acc >> 16);
				out[o++] = (uint8_t)(acc >> 8);
				out[o++] = (uint8_t)acc;
				acc = 0;
				nchars += 4;
				i += 4;
			}
			if (i == len)
				break;
		}
		v = b64_table[(uint8_t)s[i]];
		if (v == B64_SKIP)
			continue;
		if (v == B64_PAD) {
			pad++;
			if (pad > 2)
				return -1;
			nchars++;
			continue;
		}
		if (pad > 0 || v == 0)
			return -1;
		acc = (acc << 6) | (uint32_t)(v - 1);
		nchars++;
		if (nchars % 4 == 0) {
			if (o + 3 > outlen)
				return -1;
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (nchars % 4 != 0)
		return -1;
	if (pad > 0) {
		/* acc holds 4 - pad sextets of the last quantum. */
		if (pad == 1) {
			if (o + 2 > outlen || (acc & 0x3) != 0)
				return -1;
			acc >>= 2;
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
		} else {
			if (o + 1 > outlen || (acc & 0xf) != 0)
				return -1;
			out[o++] = (uint8_t)(acc >> 4);
		}
	}
	return (long)o;
}

bool
dkim_domain_within(const char *d, size_t dlen, const char *parent)
{
	size_t plen = strlen(parent);

	if (dlen == plen)
		return ascii_nieq(d, parent, plen);
	if (dlen > plen)
		return d[dlen - plen - 1] == '.' &&
		    ascii_nieq(d + dlen - plen, parent, plen);
	return false;
}

int
dkim_domain_copy(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, label = 0;

	if (len == 0 || len >= outlen || len > DKIM_DOMAIN_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				goto bad;
			label = 0;
		} else if (is_alpha(c) || is_digit(c) || c == '-' ||
		    c == '_') {
			if (++label > 63)	/* RFC 1035 2.3.4 */
				goto bad;
		} else
			goto bad;
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	if (label == 0)
		goto bad;
	out[len] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -1;
}

/* 1*maxdigits DIGIT into a uint64_t without overflow. */
static int
parse_digits(const struct dkim_slice *v, size_t maxdigits, uint64_t *n_r)
{
	uint64_t n = 0;
	size_t i;

	if (v->len == 0 || v->len > maxdigits)
		return -1;
	for (i = 0; i < v->len; i++) {
		if (!is_digit(v->p[i]))
			return -1;
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (uint64_t)(v->p[i] - '0'), &n))
			return -1;
	}
	*n_r = n;
	return 0;
}

/* Split a colon-separated list with FWS around items. Returns the number
 * of items, or -1 (empty item, more than max). */
static int
colon_list(const struct dkim_slice *v, struct dkim_slice *items, size_t max)
{
	size_t i = 0, n = 0, start, end;

	if (v->len == 0)
		return 0;
	for (;;) {
		i += fws_len(v->p, v->len, i);
		start = end = i;
		while (i < v->len && v->p[i] != ':') {
			size_t w = fws_len(v->p, v->len, i);

			if (w > 0) {
				i += w;
				continue;
			}
			end = ++i;
		}
		if (end == start || n == max)
			return -1;
		items[n].p = v->p + start;
		items[n].len = end - start;
		n++;
		if (i == v->len)
			return (int)n;
		i++;
	}
}

static const struct dkim_slice *
tag_find(const struct dkim_tag *tags, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (slice_is(&tags[i].name, name))
			return &tags[i].value;
	return NULL;
}

static int
canon_name(const char *p, size_t len, enum dkim_canon *c_r)
{
	struct dkim_slice s = { p, len };

	if (slice_is(&s, "simple"))
		*c_r = DKIM_CANON_SIMPLE;
	else if (slice_is(&s, "relaxed"))
		*c_r = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

/* The hdr-name of RFC 5322 (ftext = %d33-57 / %d59-126). */
static bool
valid_field_name(const struct dkim_slice *s)
{
	size_t i;

	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return s->len > 0;
}

/* i= values kept for results: printable, no AR-special characters. */
static bool
auid_safe(const struct dkim_slice *s)
{
	size_t i;

	if (s->len > DKIM_AUID_MAX)
		return false;
	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (c <= 0x20 || c >= 0x7f || strchr("()\"\\;", c) != NULL)
			return false;
	}
	return true;
}

int
dkim_sig_parse(const char *s, size_t len, struct dkim_sig *sig,
    const char **error_r)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const struct dkim_slice *v, *a, *b, *bh, *d, *h, *sel;
	struct dkim_slice q[DKIM_TAGS_MAX];
	const char *slash;
	size_t i;
	long r;
	int n, nq;

	memset(sig, 0, offsetof(struct dkim_sig, b));
	if (len > DKIM_SIG_FIELD_MAX) {
		*error_r = "signature field too long";
		return -1;
	}
	if ((n = dkim_tags_parse(s, len, tags, DKIM_TAGS_MAX, error_r)) < 0)
		return -1;
	/* What results show, even for a signature that fails to parse. */
	if ((d = tag_find(tags, n, "d")) != NULL)
		(void)dkim_domain_copy(d->p, d->len, sig->domain,
		    sizeof(sig->domain));
	if ((sel = tag_find(tags, n, "s")) != NULL)
		(void)dkim_domain_copy(sel->p, sel->len, sig->selector,
		    sizeof(sig->selector));
	if ((a = tag_find(tags, n, "a")) != NULL) {
		if (slice_is(a, "rsa-sha256"))
			sig->alg = DKIM_ALG_RSA_SHA256;
		else if (slice_is(a, "ed25519-sha256"))
			sig->alg = DKIM_ALG_ED25519_SHA256;
		else if (slice_is(a, "rsa-sha1"))
			sig->alg = DKIM_ALG_RSA_SHA1;
		else
			a = NULL;
		if (a != NULL)
			memcpy(sig->alg_name, a->p, a->len);	/* <= 14 */
	}
	if ((b = tag_find(tags, n, "b")) != NULL) {
		size_t k = 0;

		for (i = 0; i < b->len && k < DKIM_B_PREFIX; i++)
			if (is_b64(b->p[i]) || b->p[i] == '=')
				sig->b_prefix[k++] = b->p[i];
		sig->b_prefix[k] = '\0';
	}

	v = tag_find(tags, n, "v");
	if (v == NULL || !slice_is(v, "1")) {
		*error_r = v == NULL ? "missing v= tag" :
		    "unsupported signature version";
		return -1;
	}
	if (tag_find(tags, n, "a") == NULL) {
		*error_r = "missing a= tag";
		return -1;
	}
	if (a == NULL) {
		*error_r = "unknown signature algorithm";
		return -1;
	}
	if (b == NULL || (bh = tag_find(tags, n, "bh")) == NULL ||
	    d == NULL || (h = tag_find(tags, n, "h")) == NULL || sel == NULL) {
		*error_r = "missing required tag";
		return -1;
	}
	if (sig->domain[0] == '\0') {
		*error_r = "bad d= domain";
		return -1;
	}
	if (sig->selector[0] == '\0') {
		*error_r = "bad s= selector";
		return -1;
	}
	for (i = 0; i < (size_t)n; i++)
		if (slice_is(&tags[i].name, "b")) {
			sig->b_value_start = tags[i].value_start;
			sig->b_value_end = tags[i].value_end;
		}
	if ((r = dkim_base64_decode(b->p, b->len, sig->b, sizeof(sig->b))) <= 0) {
		*error_r = "bad b= value";
		return -1;
	}
	sig->blen = (size_t)r;
	if ((r = dkim_base64_decode(bh->p, bh->len, sig->bh,
	    sizeof(sig->bh))) <= 0) {
		*error_r = "bad bh= value";
		return -1;
	}
	sig->bhlen = (size_t)r;

	/* c= [ "/" ] */
	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	if ((v = tag_find(tags, n, "c")) != NULL) {
		slash = memchr(v->p, '/', v->len);
		if (canon_name(v->p, slash != NULL ? (size_t)(slash - v->p) :
		    v->len, &sig->hcanon) < 0 || (slash != NULL &&
		    canon_name(slash + 1, v->len - (size_t)(slash + 1 - v->p),
		    &sig->bcanon) < 0)) {
			*error_r = "bad c= value";
			return -1;
		}
	}

	nq = colon_list(h, sig->hdrs, DKIM_H_ITEMS_MAX);
	if (nq <= 0) {
		*error_r = nq == 0 ? "empty h= list" : "bad or too long h= list";
		return -1;
	}
	sig->nhdrs = (size_t)nq;
	for (i = 0; i < sig->nhdrs; i++)
		if (!valid_field_name(&sig->hdrs[i])) {
			*error_r = "bad header name in h=";
			return -1;
		}
	for (i = 0; i < sig->nhdrs; i++)
		if (slice_ieq(&sig->hdrs[i], "from"))
			break;
	if (i == sig->nhdrs) {
		*error_r = "From field not signed";
		return -1;
	}

	if ((v = tag_find(tags, n, "i")) != NULL) {
		const char *at = NULL;

		for (i = v->len; i > 0; i--)
			if (v->p[i - 1] == '@') {
				at = v->p + i - 1;
				break;
			}
		if (at == NULL || !dkim_domain_within(at + 1,
		    v->len - (size_t)(at + 1 - v->p), sig->domain)) {
			*error_r = "i= not within d= domain";
			return -1;
		}
		sig->auid_sub = v->len - (size_t)(at + 1 - v->p) !=
		    strlen(sig->domain);
		if (auid_safe(v))
			sig->auid = *v;
	}
	if ((v = tag_find(tags, n, "l")) != NULL) {
		/* 1*76DIGIT; beyond uint64 no real body reaches */
		if (parse_digits(v, 76, &sig->l) < 0) {
			*error_r = "bad l= value";
			return -1;
		}
		sig->has_l = true;
	}
	if ((v = tag_find(tags, n, "q")) != NULL) {
		if ((nq = colon_list(v, q, DKIM_TAGS_MAX)) < 0) {
			*error_r = "bad q= value";
			return -1;
		}
		for (i = 0; i < (size_t)nq; i++)
			if (slice_ieq(&q[i], "dns/txt"))
				break;
		if (i == (size_t)nq) {
			*error_r = "unsupported query method";
			return -1;
		}
	}
	if ((v = tag_find(tags, n, "t")) != NULL) {
		if (parse_digits(v, DKIM_TIME_DIGITS, &sig->t) < 0) {
			*error_r = "bad t= value";
			return -1;
		}
		sig->has_t = true;
	}
	if ((v = tag_find(tags, n, "x")) != NULL) {
		if (parse_digits(v, DKIM_TIME_DIGITS, &sig->x) < 0) {
			*error_r = "bad x= value";
			return -1;
		}
		sig->has_x = true;
		if (sig->has_t && sig->x < sig->t) {
			*error_r = "x= before t=";
			return -1;
		}
	}
	return 0;
}

int
dkim_key_parse(const char *s, size_t len, struct dkim_key *key,
    const char **error_r)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	struct dkim_slice items[DKIM_TAGS_MAX];
	const struct dkim_slice *v;
	long r;
	int n, ni, i;

	memset(key, 0, offsetof(struct dkim_key, p));
	key->plen = 0;
	if ((n = dkim_tags_parse(s, len, tags, DKIM_TAGS_MAX, error_r)) < 0)
		return -1;
	if ((v = tag_find(tags, n, "v")) != NULL &&
	    (!slice_is(&tags[0].name, "v") || !slice_is(v, "DKIM1"))) {
		*error_r = "bad key record version";
		return -1;
	}
	key->type = DKIM_KEY_RSA;
	if ((v = tag_find(tags, n, "k")) != NULL) {
		if (slice_is(v, "rsa"))
			key->type = DKIM_KEY_RSA;
		else if (slice_is(v, "ed25519"))
			key->type = DKIM_KEY_ED25519;
		else {
			*error_r = "unknown key type";
			return -1;
		}
	}
	key->hash_sha256 = key->hash_sha1 = true;
	if ((v = tag_find(tags, n, "h")) != NULL) {
		if ((ni = colon_list(v, items, DKIM_TAGS_MAX)) < 0) {
			*error_r = "bad h= in key record";
			return -1;
		}
		key->hash_sha256 = key->hash_sha1 = false;
		for (i = 0; i < ni; i++) {
			if (slice_is(&items[i], "sha256"))
				key->hash_sha256 = true;
			else if (slice_is(&items[i], "sha1"))
				key->hash_sha1 = true;
		}
	}
	key->service_email = true;
	if ((v = tag_find(tags, n, "s")) != NULL) {
		if ((ni = colon_list(v, items, DKIM_TAGS_MAX)) < 0) {
			*error_r = "bad s= in key record";
			return -1;
		}
		key->service_email = false;
		for (i = 0; i < ni; i++)
			if (slice_is(&items[i], "*") ||
			    slice_is(&items[i], "email"))
				key->service_email = true;
	}
	if ((v = tag_find(tags, n, "t")) != NULL) {
		if ((ni = colon_list(v, items, DKIM_TAGS_MAX)) < 0) {
			*error_r = "bad t= in key record";
			return -1;
		}
		for (i = 0; i < ni; i++) {
			if (slice_is(&items[i], "y"))
				key->testing = true;
			else if (slice_is(&items[i], "s"))
				key->strict = true;
		}
	}
	if ((v = tag_find(tags, n, "p")) == NULL) {
		*error_r = "key record without p=";
		return -1;
	}
	if (v->len == 0) {
		key->revoked = true;
		return 0;
	}
	if ((r = dkim_base64_decode(v->p, v->len, key->p,
	    sizeof(key->p))) <= 0) {
		*error_r = "bad p= in key record";
		return -1;
	}
	key->plen = (size_t)r;
	return 0;
}

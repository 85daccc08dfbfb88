/* dmarc: the DMARC record parser, the Organizational Domain (libpsl),
 * alignment, the RFC 5322.From domain, evaluation with pct sampling, and
 * aggregate-report rows (RFC 7489). The asynchronous policy discovery is
 * in dmarc_check.c. */
#include "dmarc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>
#include <openssl/rand.h>

#include "mime.h"
#include "util.h"

#define DMARC_LABEL_MAX		63	/* RFC 1035 2.3.4 */
#define DMARC_PCT_MAX		100
#define DMARC_RI_MAX		UINT32_MAX
#define DMARC_VERSION		"DMARC1"
#define DMARC_ROLLS		100	/* pct granularity */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl_ctx;

/*
 * Names
 */

/* A domain (LDH labels, '_' allowed, final dot dropped) lower-cased into
 * out. Returns 0, or -1 with out empty (never a valid-looking prefix of
 * a bad name). */
static int
domain_norm(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, label = 0;

	if (outlen == 0)
		return -1;
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > DMARC_DOMAIN_MAX || len >= outlen)
		goto bad;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0)
				goto bad;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			label++;
		} else if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
			label++;
		} else
			goto bad;
		if (label > DMARC_LABEL_MAX)
			goto bad;
		out[i] = c;
	}
	if (label == 0)
		goto bad;
	out[len] = '\0';
	return 0;
bad:
	out[0] = '\0';
	return -1;
}

static void
psl_init(void)
{
	/* The newest of the built-in list and the one of the publicsuffix
	 * package. */
	psl_ctx = psl_latest(NULL);
	if (psl_ctx == NULL)
		psl_ctx = psl_builtin();
}

int
dmarc_org_domain(const char *domain, char *out, size_t outlen)
{
	char d[DMARC_DOMAIN_MAX + 1];
	const char *reg = NULL;

	if (domain_norm(domain, strlen(domain), d, sizeof(d)) < 0)
		return -1;
	if (pthread_once(&psl_once, psl_init) != 0)
		return -1;
	if (psl_ctx != NULL)
		reg = psl_registrable_domain(psl_ctx, d);
	/* A public suffix (or a name the list does not know to be under
	 * one) is its own Organizational Domain. */
	if (moat_strlcpy(out, reg != NULL ? reg : d, outlen) >= outlen)
		return -1;
	return 0;
}

bool
dmarc_aligned(const char *a, const char *b, enum dmarc_align mode)
{
	char oa[DMARC_DOMAIN_MAX + 1], ob[DMARC_DOMAIN_MAX + 1];
	char na[DMARC_DOMAIN_MAX + 1], nb[DMARC_DOMAIN_MAX + 1];

	if (a == NULL || b == NULL ||
	    domain_norm(a, strlen(a), na, sizeof(na)) < 0 ||
	    domain_norm(b, strlen(b), nb, sizeof(nb)) < 0)
		return false;
	if (strcmp(na, nb) == 0)
		return true;
	if (mode == DMARC_ALIGN_STRICT)
		return false;
	if (dmarc_org_domain(na, oa, sizeof(oa)) < 0 ||
	    dmarc_org_domain(nb, ob, sizeof(ob)) < 0)
		return false;
	return strcmp(oa, ob) == 0;
}

const char *
dmarc_spf_domain(const char *mail_from, const char *helo)
{
	const char *at;

	if (mail_from != NULL && mail_from[0] != '\0') {
		at = strrchr(mail_from, '@');
		return at != NULL ? at + 1 : mail_from;
	}
	return helo != NULL ? helo : "";
}

/*
 * Record (RFC 7489 6.3, 6.4)
 */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
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

static bool
val_is(const char *v, size_t n, const char *word)
{
	return strlen(word) == n && ascii_nieq(v, word, n);
}

static int
parse_policy(const char *v, size_t n, enum dmarc_policy *p)
{
	if (val_is(v, n, "none"))
		*p = DMARC_P_NONE;
	else if (val_is(v, n, "quarantine"))
		*p = DMARC_P_QUARANTINE;
	else if (val_is(v, n, "reject"))
		*p = DMARC_P_REJECT;
	else
		return -1;
	return 0;
}

static int
parse_align(const char *v, size_t n, enum dmarc_align *a)
{
	if (val_is(v, n, "r"))
		*a = DMARC_ALIGN_RELAXED;
	else if (val_is(v, n, "s"))
		*a = DMARC_ALIGN_STRICT;
	else
		return -1;
	return 0;
}

/* 1*DIGIT in [0, max]. */
static int
parse_num(const char *v, size_t n, size_t maxdigits, uint64_t max,
    uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > maxdigits)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > max)
		return -1;
	*out = x;
	return 0;
}

/* fo = ("0" / "1" / "d" / "s") *(*WSP ":" *WSP ( ... )) */
static int
parse_fo(const char *v, size_t n, unsigned *fo)
{
	size_t i = 0;
	unsigned f = 0;

	for (;;) {
		if (i >= n)
			return -1;
		switch (v[i]) {
		case '0': f |= DMARC_FO_0; break;
		case '1': f |= DMARC_FO_1; break;
		case 'd': case 'D': f |= DMARC_FO_D; break;
		case 's': case 'S': f |= DMARC_FO_S; break;
		default: return -1;
		}
		i++;
		while (i < n && is_wsp(v[i]))
			i++;
		if (i == n)
			break;
		if (v[i++] != ':')
			return -1;
		while (i < n && is_wsp(v[i]))
			i++;
	}
	*fo = f;
	return 0;
}

/* dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]: a scheme,
 * ':', then URI characters without ',' and '!'; the size fits 64 bits. */
static bool
valid_uri(const char *u, size_t n)
{
	size_t i = 0, colon, bang, digits = 0;
	uint64_t size = 0;

	if (n == 0 || !is_alpha(u[0]))
		return false;
	for (i = 1; i < n && (is_alpha(u[i]) || is_digit(u[i]) ||
	    u[i] == '+' || u[i] == '-' || u[i] == '.'); i++)
		;
	if (i >= n || u[i] != ':')
		return false;
	colon = i;
	for (bang = colon + 1; bang < n && u[bang] != '!'; bang++) {
		unsigned char c = (unsigned char)u[bang];

		if (c <= 0x20 || c >= 0x7f || c == ',' || c == ';')
			return false;
	}
	if (bang == colon + 1)
		return false;
	if (bang == n)
		return true;
	for (i = bang + 1; i < n && is_digit(u[i]); i++) {
		uint64_t d = (uint64_t)(u[i] - '0');

		if (size > (UINT64_MAX - d) / 10)
			return false;
		size = size * 10 + d;
		digits++;
	}
	if (digits == 0)
		return false;
	if (i < n && strchr("kKmMgGtT", u[i]) != NULL)
		i++;
	return i == n;
}

/* A comma-separated URI list: keep the valid ones. */
static void
parse_uris(const char *v, size_t n, char uris[][DMARC_URI_MAX + 1],
    size_t *count)
{
	size_t i = 0, start, end;

	while (i <= n) {
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (start < end && is_wsp(v[start]))
			start++;
		while (end > start && is_wsp(v[end - 1]))
			end--;
		if (*count < DMARC_URIS_MAX && end - start <= DMARC_URI_MAX &&
		    valid_uri(v + start, end - start)) {
			memcpy(uris[*count], v + start, end - start);
			uris[*count][end - start] = '\0';
			(*count)++;
		}
		i++;
	}
}

enum dmarc_tag {
	TAG_V = 0, TAG_P, TAG_SP, TAG_PCT, TAG_ADKIM, TAG_ASPF, TAG_RUA,
	TAG_RUF, TAG_FO, TAG_RI, TAG_RF, TAG_UNKNOWN,
};

static const char *const tag_names[TAG_UNKNOWN] = {
	[TAG_V] = "v", [TAG_P] = "p", [TAG_SP] = "sp", [TAG_PCT] = "pct",
	[TAG_ADKIM] = "adkim", [TAG_ASPF] = "aspf", [TAG_RUA] = "rua",
	[TAG_RUF] = "ruf", [TAG_FO] = "fo", [TAG_RI] = "ri", [TAG_RF] = "rf",
};

static enum dmarc_tag
tag_lookup(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < TAG_UNKNOWN; i++)
		if (val_is(name, n, tag_names[i]))
			return (enum dmarc_tag)i;
	return TAG_UNKNOWN;
}

/* Does the record start with "v" *WSP "=" *WSP "DMARC1" (then WSP, ';'
 * or the end)? */
static bool
starts_dmarc1(const char *s, size_t len)
{
	size_t i = 0, vl = strlen(DMARC_VERSION);

	while (i < len && is_wsp(s[i]))
		i++;
	if (i >= len || s[i] != 'v')
		return false;
	for (i++; i < len && is_wsp(s[i]); i++)
		;
	if (i >= len || s[i] != '=')
		return false;
	for (i++; i < len && is_wsp(s[i]); i++)
		;
	if (len - i < vl || memcmp(s + i, DMARC_VERSION, vl) != 0)
		return false;
	i += vl;
	return i == len || is_wsp(s[i]) || s[i] == ';';
}

/* One value of a known tag into rec. Returns 0 or -1. */
static int
apply_tag(struct dmarc_record *rec, enum dmarc_tag t, const char *v,
    size_t n, bool *p_bad, bool *sp_bad)
{
	uint64_t x;

	switch (t) {
	case TAG_V:
		return val_is(v, n, DMARC_VERSION) ? 0 : -1;
	case TAG_P:
		if (parse_policy(v, n, &rec->p) < 0)
			*p_bad = true;
		return 0;
	case TAG_SP:
		if (parse_policy(v, n, &rec->sp) < 0)
			*sp_bad = true;
		return 0;
	case TAG_PCT:
		if (parse_num(v, n, 3, DMARC_PCT_MAX, &x) < 0)
			return -1;
		rec->pct = (unsigned)x;
		return 0;
	case TAG_ADKIM:
		return parse_align(v, n, &rec->adkim);
	case TAG_ASPF:
		return parse_align(v, n, &rec->aspf);
	case TAG_RUA:
		parse_uris(v, n, rec->rua, &rec->nrua);
		return 0;
	case TAG_RUF:
		parse_uris(v, n, rec->ruf, &rec->nruf);
		return 0;
	case TAG_FO:
		return parse_fo(v, n, &rec->fo);
	case TAG_RI:
		if (parse_num(v, n, 10, DMARC_RI_MAX, &x) < 0)
			return -1;
		rec->ri = (uint32_t)x;
		return 0;
	case TAG_RF:
	case TAG_UNKNOWN:
		return 0;	/* rf: only afrf is registered; ignored */
	}
	return 0;
}

/*
 * tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
 * tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 * tag-name  = ALPHA *ALNUMPUNC
 * tag-value = [ tval *( 1*(WSP / FWS) tval ) ]
 * tval      = 1*VALCHAR	; %x21-3A / %x3C-7E
 * (RFC 6376 3.2, as RFC 7489 6.3 uses it; "v=DMARC1" first.)
 */
int
dmarc_record_parse(const char *s, size_t len, struct dmarc_record *rec,
    const char **error_r)
{
	uint32_t seen = 0;
	bool p_bad = false, sp_bad = false, have_p = false;
	size_t i = 0, ntags = 0;

	memset(rec, 0, sizeof(*rec));
	rec->pct = DMARC_PCT_MAX;
	rec->ri = DMARC_RI_DEFAULT;
	rec->fo = DMARC_FO_0;
	if (!starts_dmarc1(s, len))
		return 1;
	if (len > DMARC_RECORD_MAX) {
		*error_r = "record too long";
		return -1;
	}
	while (i < len) {
		size_t ns, ne, vs, ve;
		enum dmarc_tag t;

		while (i < len && is_wsp(s[i]))
			i++;
		if (i == len)
			break;
		if (s[i] == ';') {	/* empty tag-spec: only at the end */
			*error_r = "empty tag";
			return -1;
		}
		ns = i;
		if (!is_alpha(s[i])) {
			*error_r = "bad tag name";
			return -1;
		}
		while (i < len && (is_alpha(s[i]) || is_digit(s[i]) ||
		    s[i] == '_'))
			i++;
		ne = i;
		while (i < len && is_wsp(s[i]))
			i++;
		if (i == len || s[i] != '=') {
			*error_r = "tag without '='";
			return -1;
		}
		i++;
		while (i < len && is_wsp(s[i]))
			i++;
		vs = i;
		while (i < len && s[i] != ';') {
			unsigned char c = (unsigned char)s[i];

			if (!is_wsp(s[i]) && (c < 0x21 || c > 0x7e)) {
				*error_r = "bad character in a value";
				return -1;
			}
			i++;
		}
		ve = i;
		while (ve > vs && is_wsp(s[ve - 1]))
			ve--;
		if (i < len)
			i++;	/* ';' */
		if (++ntags > DMARC_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		t = tag_lookup(s + ns, ne - ns);
		if (t != TAG_UNKNOWN) {
			if ((seen & (1u << t)) != 0) {
				*error_r = "duplicate tag";
				return -1;
			}
			seen |= 1u << t;
			if (t == TAG_P)
				have_p = true;
			if (apply_tag(rec, t, s + vs, ve - vs, &p_bad,
			    &sp_bad) < 0) {
				*error_r = "bad tag value";
				return -1;
			}
		}
		/* v= must be the first tag (6.4: dmarc-version first). */
		if (ntags == 1 && t != TAG_V) {
			*error_r = "v= is not the first tag";
			return -1;
		}
	}
	if (!have_p || p_bad || sp_bad) {
		/* 6.6.3 step 6: a valid rua= makes it p=none. */
		if (rec->nrua == 0) {
			*error_r = !have_p ? "no p= tag" : p_bad ?
			    "bad p= value" : "bad sp= value";
			return -1;
		}
		rec->p = DMARC_P_NONE;
		rec->sp = DMARC_P_UNSET;
		rec->p_implied = true;
	}
	return 0;
}

enum dmarc_select
dmarc_record_select(const struct dns_txt *txt, size_t n,
    struct dmarc_record *rec, const char **error_r)
{
	struct dmarc_record tmp;
	const char *error = NULL;
	size_t i, found = 0;
	int r, last = 1;

	for (i = 0; i < n; i++) {
		r = dmarc_record_parse(txt[i].s, txt[i].len, &tmp, &error);
		if (r == 1)
			continue;
		/* A record with an embedded NUL is not valid text. */
		if (r == 0 && strlen(txt[i].s) != txt[i].len) {
			r = -1;
			error = "NUL in record";
		}
		if (++found == 1) {
			last = r;
			if (r == 0)
				*rec = tmp;
			else
				*error_r = error;
		}
	}
	if (found == 0)
		return DMARC_SELECT_EMPTY;
	if (found > 1) {
		*error_r = "several DMARC records";
		return DMARC_SELECT_MULTIPLE;
	}
	return last == 0 ? DMARC_SELECT_FOUND : DMARC_SELECT_INVALID;
}

/*
 * RFC 5322.From (RFC 7489 6.6.1)
 */

/* The next header field of the header block at *pos: the offsets of
 * its name and value. Returns 1, or 0 at the end of the header. */
static int
next_field(const char *m, size_t len, size_t *pos, size_t *name_off,
    size_t *name_len, size_t *value_off, size_t *value_len)
{
	size_t i = *pos, start = *pos;
	const char *colon;

	if (i >= len || m[i] == '\r' || m[i] == '\n')
		return 0;
	for (;;) {
		const char *nl = memchr(m + i, '\n', len - i);

		i = nl != NULL ? (size_t)(nl - m) + 1 : len;
		if (i >= len || (m[i] != ' ' && m[i] != '\t'))
			break;
	}
	*pos = i;
	*name_off = start;
	*name_len = 0;
	if ((colon = memchr(m + start, ':', i - start)) == NULL)
		return 1;
	/* UNSAFE: colon is within [start, i) */
	*name_len = (size_t)(colon - (m + start));
	while (*name_len > 0 && is_wsp(m[start + *name_len - 1]))
		(*name_len)--;
	*value_off = (size_t)(colon - m) + 1;
	*value_len = i - *value_off;
	return 1;
}

int
dmarc_from_domain(const void *msg, size_t len, char *out, size_t outlen,
    const char **error_r)
{
	const char *m = msg;
	size_t pos = 0, noff, nl, voff = 0, vlen = 0, fvoff = 0, fvlen = 0;
	size_t nfields = 0, nfrom = 0, naddrs = 0;
	struct mime_addr *list, *a;
	char d[DMARC_DOMAIN_MAX + 1];
	int ret = 1;

	if (len > DMARC_HEADER_MAX)
		len = DMARC_HEADER_MAX;
	while (next_field(m, len, &pos, &noff, &nl, &voff, &vlen) == 1) {
		if (++nfields > DMARC_FROM_FIELDS_MAX)
			break;
		if (nl == 4 && ascii_nieq(m + noff, "from", 4)) {
			nfrom++;
			fvoff = voff;
			fvlen = vlen;
		}
	}
	if (nfrom == 0) {
		*error_r = "no From field";
		return -1;
	}
	if (nfrom > 1) {
		*error_r = "several From fields";
		return -1;
	}
	list = mime_addr_parse((const uint8_t *)m + fvoff, fvlen);
	for (a = list; a != NULL; a = a->next) {
		if (a->host == NULL)
			continue;	/* group start or end */
		if (++naddrs > DMARC_FROM_ADDRS_MAX ||
		    domain_norm(a->host, strlen(a->host), d, sizeof(d)) < 0) {
			*error_r = "From domain is not a valid name";
			ret = -1;
			break;
		}
		if (naddrs == 1) {
			if (moat_strlcpy(out, d, outlen) >= outlen) {
				*error_r = "From domain too long";
				ret = -1;
				break;
			}
			ret = 0;
		} else if (strcmp(out, d) != 0) {
			*error_r = "several From domains";
			ret = -1;
			break;
		}
	}
	mime_addr_free(&list);
	return ret;
}

/*
 * Evaluation (6.6.2)
 */

/* A uniform roll in 0..DMARC_ROLLS-1. */
static unsigned
pct_roll(void)
{
	uint32_t x;
	const uint32_t lim = UINT32_MAX - UINT32_MAX % DMARC_ROLLS;

	do {
		if (RAND_bytes((unsigned char *)&x, sizeof(x)) != 1)
			return 0;	/* apply the policy */
	} while (x >= lim);
	return x % DMARC_ROLLS;
}

void
dmarc_evaluate(const struct dmarc_record *rec, const char *policy_domain,
    const struct dmarc_auth *in, struct dmarc_result *out)
{
	enum dmarc_align adkim = rec != NULL ? rec->adkim :
	    DMARC_ALIGN_RELAXED;
	enum dmarc_align aspf = rec != NULL ? rec->aspf : DMARC_ALIGN_RELAXED;
	const struct dkim_result *best = NULL;
	const char *from = in->from_domain;
	unsigned roll;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->reason = "";
	out->spf = in->spf;
	out->dkim = DKIM_NONE;
	if (in->spf_domain != NULL)
		(void)domain_norm(in->spf_domain, strlen(in->spf_domain),
		    out->spf_domain, sizeof(out->spf_domain));
	if (from == NULL || domain_norm(from, strlen(from), out->from_domain,
	    sizeof(out->from_domain)) < 0) {
		out->status = DMARC_PERMERROR;
		out->reason = in->from_error != NULL ? in->from_error :
		    "no usable From domain";
		return;
	}
	(void)dmarc_org_domain(out->from_domain, out->org_domain,
	    sizeof(out->org_domain));
	out->spf_aligned = in->spf == SPF_PASS && out->spf_domain[0] != '\0' &&
	    dmarc_aligned(out->spf_domain, out->from_domain, aspf);
	for (i = 0; i < in->ndkim; i++) {
		const struct dkim_result *r = &in->dkim[i];

		if (r->status == DKIM_PASS && dmarc_aligned(r->domain,
		    out->from_domain, adkim)) {
			best = r;
			out->dkim_aligned = true;
			break;
		}
		if (best == NULL || (best->status != DKIM_PASS &&
		    r->status == DKIM_PASS))
			best = r;
	}
	if (best != NULL) {
		out->dkim = best->status;
		moat_strlcpy(out->dkim_domain, best->domain,
		    sizeof(out->dkim_domain));
	}
	if (rec == NULL) {
		out->status = DMARC_NONE;
		out->reason = "no DMARC policy";
		return;
	}
	out->has_record = true;
	out->rec = *rec;
	if (policy_domain != NULL)
		(void)domain_norm(policy_domain, strlen(policy_domain),
		    out->policy_domain, sizeof(out->policy_domain));
	out->subdomain = out->policy_domain[0] != '\0' &&
	    strcmp(out->policy_domain, out->from_domain) != 0;
	out->policy = out->subdomain && rec->sp != DMARC_P_UNSET ? rec->sp :
	    rec->p;
	if (out->spf_aligned || out->dkim_aligned) {
		out->status = DMARC_PASS;
		out->disposition = DMARC_DISP_NONE;
		return;
	}
	out->status = DMARC_FAIL;
	out->reason = "no aligned SPF or DKIM pass";
	roll = in->pct_roll >= 0 && in->pct_roll < DMARC_ROLLS ?
	    (unsigned)in->pct_roll : pct_roll();
	switch (out->policy) {
	case DMARC_P_REJECT:
		out->disposition = DMARC_DISP_REJECT;
		break;
	case DMARC_P_QUARANTINE:
		out->disposition = DMARC_DISP_QUARANTINE;
		break;
	default:
		out->disposition = DMARC_DISP_NONE;
		return;
	}
	if (roll >= rec->pct) {
		/* 6.6.4: not sampled: reject becomes quarantine, quarantine
		 * local classification (none). */
		out->sampled_out = true;
		out->disposition = out->disposition == DMARC_DISP_REJECT ?
		    DMARC_DISP_QUARANTINE : DMARC_DISP_NONE;
	}
}

/*
 * Names and formatting
 */

const char *
dmarc_status_name(enum dmarc_status st)
{
	switch (st) {
	case DMARC_NONE:
		return "none";
	case DMARC_PASS:
		return "pass";
	case DMARC_FAIL:
		return "fail";
	case DMARC_TEMPERROR:
		return "temperror";
	case DMARC_PERMERROR:
		return "permerror";
	}
	return "none";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_UNSET:
		return "unset";
	case DMARC_P_NONE:
		return "none";
	case DMARC_P_QUARANTINE:
		return "quarantine";
	case DMARC_P_REJECT:
		return "reject";
	}
	return "none";
}

const char *
dmarc_disposition_name(enum dmarc_disposition d)
{
	switch (d) {
	case DMARC_DISP_NONE:
		return "none";
	case DMARC_DISP_QUARANTINE:
		return "quarantine";
	case DMARC_DISP_REJECT:
		return "reject";
	}
	return "none";
}

int
dmarc_ar_format(const struct dmarc_result *r, char *out, size_t outlen)
{
	int n;

	if (r->has_record)
		n = snprintf(out, outlen, "dmarc=%s (p=%s%s%s dis=%s) "
		    "header.from=%s", dmarc_status_name(r->status),
		    dmarc_policy_name(r->rec.p),
		    r->rec.sp != DMARC_P_UNSET ? " sp=" : "",
		    r->rec.sp != DMARC_P_UNSET ?
		    dmarc_policy_name(r->rec.sp) : "",
		    dmarc_disposition_name(r->disposition), r->from_domain);
	else if (r->from_domain[0] != '\0')
		n = snprintf(out, outlen, "dmarc=%s header.from=%s",
		    dmarc_status_name(r->status), r->from_domain);
	else
		n = snprintf(out, outlen, "dmarc=%s (%s)",
		    dmarc_status_name(r->status), r->reason);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * Aggregate report rows (7.2)
 */

void
dmarc_report_row(const struct dmarc_result *r, const char *source_ip,
    time_t now, struct dmarc_report_row *row)
{
	memset(row, 0, sizeof(*row));
	row->time = now;
	if (source_ip != NULL)
		moat_strlcpy(row->source_ip, source_ip, sizeof(row->source_ip));
	moat_strlcpy(row->header_from, r->from_domain,
	    sizeof(row->header_from));
	moat_strlcpy(row->envelope_from, r->spf_domain,
	    sizeof(row->envelope_from));
	moat_strlcpy(row->policy_domain, r->policy_domain,
	    sizeof(row->policy_domain));
	row->policy = r->has_record ? dmarc_policy_name(r->policy) : "none";
	row->disposition = dmarc_disposition_name(r->disposition);
	row->dmarc = dmarc_status_name(r->status);
	row->dkim = dkim_status_name(r->dkim);
	moat_strlcpy(row->dkim_domain, r->dkim_domain,
	    sizeof(row->dkim_domain));
	row->dkim_aligned = r->dkim_aligned;
	row->spf = spf_result_name(r->spf);
	moat_strlcpy(row->spf_domain, r->spf_domain, sizeof(row->spf_domain));
	row->spf_aligned = r->spf_aligned;
	row->pct = r->has_record ? r->rec.pct : DMARC_PCT_MAX;
}

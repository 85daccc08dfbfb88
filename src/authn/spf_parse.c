/* spf_parse: SPF record selection and the record parser (RFC 7208
 * sections 4.5, 4.6, 5, 6 and 12; RFC 4406 3 for spf2.0 scopes). Turns
 * record text into terms; every syntax error anywhere in a record makes
 * the whole record invalid (4.6). Pure: no I/O. */
#include "spf_parse.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xalloc.h"

#define SPF_TERMS_INITIAL 16

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* version = "v=spf1", ended by SP or the end of the record (4.5). */
static bool
is_spf1(const char *txt, size_t len)
{
	return len >= 6 && ascii_nieq(txt, "v=spf1", 6) &&
	    (len == 6 || txt[6] == ' ');
}

/* version = "spf2." ver-minor scope
 * scope = "/" scope-id *( "," scope-id )   (RFC 4406 3) */
static bool
spf2_has_scope(const char *txt, size_t len, const char *want, size_t *end_r)
{
	size_t i = 5, start;
	bool found = false;

	if (len < 5 || !ascii_nieq(txt, "spf2.", 5))
		return false;
	start = i;
	while (i < len && is_digit((unsigned char)txt[i]))
		i++;
	if (i == start || i >= len || txt[i] != '/')
		return false;
	for (;;) {
		start = ++i;
		while (i < len && txt[i] != ',' && txt[i] != ' ')
			i++;
		if (i == start)
			return false;
		if (i - start == strlen(want) &&
		    ascii_nieq(txt + start, want, i - start))
			found = true;
		if (i >= len || txt[i] == ' ')
			break;
	}
	*end_r = i;
	return found;
}

enum spf_version
spf_record_version(const char *txt, size_t len, enum spf_scope scope,
    size_t *terms_r)
{
	if (is_spf1(txt, len)) {
		*terms_r = 6;
		return SPF_VERSION_SPF1;
	}
	if (scope == SPF_SCOPE_SPF1)
		return SPF_VERSION_NONE;
	if (spf2_has_scope(txt, len, scope == SPF_SCOPE_PRA ? "pra" : "mfrom",
	    terms_r))
		return SPF_VERSION_SPF2;
	return SPF_VERSION_NONE;
}

/* ip4-cidr-length = "/" ( "0" / %x31-39 0*1DIGIT )  ; 0-32
 * ip6-cidr-length = "/" ( "0" / %x31-39 0*2DIGIT )  ; 0-128 */
static int
cidr_value(const char *s, size_t len, unsigned max, unsigned *v_r)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*v_r = v;
	return 0;
}

/* Strip a trailing dual-cidr-length from s[0..*len):
 * dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ] */
static int
strip_dual_cidr(const char *s, size_t *len, struct spf_term *t)
{
	size_t n = *len, d = n;

	while (d > 0 && is_digit((unsigned char)s[d - 1]))
		d--;
	if (d < n && d >= 2 && s[d - 1] == '/' && s[d - 2] == '/') {
		if (cidr_value(s + d, n - d, SPF_CIDR6_MAX, &t->cidr6) < 0)
			return -1;
		n = d - 2;
		d = n;
		while (d > 0 && is_digit((unsigned char)s[d - 1]))
			d--;
	}
	if (d < n && d >= 1 && s[d - 1] == '/') {
		if (cidr_value(s + d, n - d, SPF_CIDR4_MAX, &t->cidr4) < 0)
			return -1;
		n = d - 1;
	}
	*len = n;
	return 0;
}

static int
ip_network(const char *s, size_t len, struct spf_term *t, const char **err)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	int family = t->mech == SPF_MECH_IP4 ? AF_INET : AF_INET6;

	if (alen == 0 || alen >= sizeof(buf) || memchr(s, '\0', len)) {
		*err = "bad ip4/ip6 network";
		return -1;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(family, buf, &t->addr) != 1) {
		*err = "bad ip4/ip6 address";
		return -1;
	}
	if (slash != NULL && cidr_value(slash + 1, len - alen - 1,
	    family == AF_INET ? SPF_CIDR4_MAX : SPF_CIDR6_MAX,
	    family == AF_INET ? &t->cidr4 : &t->cidr6) < 0) {
		*err = "bad cidr length";
		return -1;
	}
	return 0;
}

static const struct {
	const char	*name;
	enum spf_mech	 mech;
} mechs[] = {
	{ "all", SPF_MECH_ALL },
	{ "include", SPF_MECH_INCLUDE },
	{ "a", SPF_MECH_A },
	{ "mx", SPF_MECH_MX },
	{ "ptr", SPF_MECH_PTR },
	{ "ip4", SPF_MECH_IP4 },
	{ "ip6", SPF_MECH_IP6 },
	{ "exists", SPF_MECH_EXISTS },
};

/* directive = [ qualifier ] mechanism */
static int
parse_directive(const char *s, size_t len, struct spf_term *t,
    const char **err)
{
	size_t i = 0, n, k, speclen;
	const char *arg;
	bool found = false;

	memset(t, 0, sizeof(*t));
	t->qualifier = '+';
	t->cidr4 = SPF_CIDR4_MAX;
	t->cidr6 = SPF_CIDR6_MAX;
	if (len > 0 && strchr("+-~?", s[0]) != NULL && s[0] != '\0') {
		t->qualifier = s[0];
		i = 1;
	}
	for (n = i; n < len && s[n] != ':' && s[n] != '/'; n++)
		;
	for (k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++) {
		if (strlen(mechs[k].name) == n - i &&
		    ascii_nieq(s + i, mechs[k].name, n - i)) {
			t->mech = mechs[k].mech;
			found = true;
			break;
		}
	}
	if (!found) {
		*err = "unknown mechanism";
		return -1;
	}
	arg = s + n;
	speclen = len - n;
	switch (t->mech) {
	case SPF_MECH_ALL:
		if (speclen != 0) {
			*err = "\"all\" takes no argument";
			return -1;
		}
		return 0;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if (speclen < 2 || arg[0] != ':') {
			*err = "ip4/ip6 need an address";
			return -1;
		}
		return ip_network(arg + 1, speclen - 1, t, err);
	case SPF_MECH_A:
	case SPF_MECH_MX:
		if (strip_dual_cidr(arg, &speclen, t) < 0) {
			*err = "bad cidr length";
			return -1;
		}
		break;
	default:
		break;
	}
	if (speclen == 0) {
		if (t->mech == SPF_MECH_INCLUDE || t->mech == SPF_MECH_EXISTS) {
			*err = "mechanism needs a domain";
			return -1;
		}
		return 0;
	}
	if (arg[0] != ':') {
		*err = "bad mechanism argument";
		return -1;
	}
	t->domain = arg + 1;
	t->domain_len = speclen - 1;
	return spf_macro_check(t->domain, t->domain_len, SPF_MACRO_DOMAIN, err);
}

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ); returns its length
 * when s starts with name "=", else 0. */
static size_t
modifier_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || !is_alpha((unsigned char)s[0]))
		return 0;
	for (i = 1; i < len; i++) {
		if (s[i] == '=')
			return i;
		if (!is_alpha((unsigned char)s[i]) &&
		    !is_digit((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return 0;
	}
	return 0;
}

static int
parse_modifier(const char *s, size_t len, size_t nlen, struct spf_record *rec,
    const char **err)
{
	const char *v = s + nlen + 1;
	size_t vlen = len - nlen - 1;

	if (nlen == 8 && ascii_nieq(s, "redirect", 8)) {
		if (rec->redirect != NULL) {
			*err = "more than one redirect modifier";
			return -1;
		}
		rec->redirect = v;
		rec->redirect_len = vlen;
		return spf_macro_check(v, vlen, SPF_MACRO_DOMAIN, err);
	}
	if (nlen == 3 && ascii_nieq(s, "exp", 3)) {
		if (rec->exp != NULL) {
			*err = "more than one exp modifier";
			return -1;
		}
		rec->exp = v;
		rec->exp_len = vlen;
		return spf_macro_check(v, vlen, SPF_MACRO_DOMAIN, err);
	}
	/* unknown-modifier = name "=" macro-string: ignored, but checked */
	return spf_macro_check(v, vlen, SPF_MACRO_STRING, err);
}

/* terms = *( 1*SP ( directive / modifier ) ), record = version terms *SP */
int
spf_record_parse(const char *txt, size_t len, struct spf_record *rec,
    const char **error_r)
{
	size_t i = 0, start, nlen, cap = 0;
	struct spf_term t;

	memset(rec, 0, sizeof(*rec));
	if (len > 0 && txt[0] != ' ') {
		*error_r = "no space after the version";
		return -1;
	}
	while (i < len) {
		while (i < len && txt[i] == ' ')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && txt[i] != ' ')
			i++;
		if ((nlen = modifier_name(txt + start, i - start)) > 0) {
			if (parse_modifier(txt + start, i - start, nlen, rec,
			    error_r) < 0)
				goto fail;
			continue;
		}
		if (parse_directive(txt + start, i - start, &t, error_r) < 0)
			goto fail;
		if (rec->nterms == SPF_TERMS_MAX) {
			*error_r = "too many terms";
			goto fail;
		}
		if (rec->nterms == cap) {
			cap = cap == 0 ? SPF_TERMS_INITIAL : cap * 2;
			rec->terms = xreallocarray(rec->terms, cap,
			    sizeof(*rec->terms));
		}
		rec->terms[rec->nterms++] = t;
	}
	return 0;
fail:
	spf_record_deinit(rec);
	return -1;
}

void
spf_record_deinit(struct spf_record *rec)
{
	free(rec->terms);
	memset(rec, 0, sizeof(*rec));
}

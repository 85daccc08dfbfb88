/* spf: the check_host() state machine of RFC 7208 (and the Sender ID
 * variant of RFC 4406), driven by dns callbacks on the loop. One query is
 * outstanding at a time; the stack of frames holds the record being
 * evaluated and the includes above it (redirect replaces the top frame).
 * Limits: 10 terms that cause lookups, 2 void lookups, 10 MX / PTR names
 * per mechanism (RFC 7208 4.6.4), and a total time limit. */
#include "spf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "spf_parse.h"
#include "util.h"
#include "xalloc.h"

/* Includes nest at most SPF_LOOKUPS_MAX deep: each one is a lookup. */
#define SPF_FRAMES_MAX (SPF_LOOKUPS_MAX + 1)
#define SPF_NAMES_MAX 10		/* >= SPF_MX_NAMES_MAX, PTR_NAMES */
#define SPF_EXP_TXT_MAX 4096		/* exp TXT we expand */
#define SPF_RECEIVER_MAX 255

enum spf_step {
	STEP_NONE = 0,
	STEP_RECORD,		/* TXT of the top frame's domain */
	STEP_ADDR,		/* a / exists: A or AAAA of the target */
	STEP_MX,		/* mx: the MX names */
	STEP_MX_ADDR,		/* mx: addresses of names[name_idx] */
	STEP_PTR,		/* ptr or %{p}: the PTR names */
	STEP_PTR_ADDR,		/* addresses of names[name_idx] */
	STEP_EXP,		/* TXT of the exp= domain */
};

/* What the %{p} lookup was started for. */
enum p_for {
	P_FOR_TERM = 0,		/* re-evaluate the current term */
	P_FOR_REDIRECT,		/* expand redirect= again */
	P_FOR_EXP_DOMAIN,	/* expand exp= again */
	P_FOR_EXP_TEXT,		/* expand the explanation again */
};

enum frame_kind { FRAME_TOP = 0, FRAME_INCLUDE, FRAME_REDIRECT };

struct frame {
	enum frame_kind		 kind;
	char			 domain[SPF_DOMAIN_MAX + 1];
	char			*text;		/* the record, NUL-ended */
	struct spf_record	 rec;
	bool			 loaded;
	size_t			 next;		/* term to evaluate */
	bool			 counted;	/* terms[next] was counted */
};

struct spf_check {
	uv_loop_t		*loop;
	struct dns		*dns;
	spf_cb			*cb;
	void			*ctx;
	uv_timer_t		 timer;
	bool			 started;
	bool			 finished;
	struct dns_query	*q;
	enum spf_step		 step;
	unsigned		 timeout_ms;

	/* <ip> */
	int			 family;
	union {
		struct in_addr	 v4;
		struct in6_addr	 v6;
	}			 ip;
	char			 ip_i[SPF_IP_I_MAX];
	char			 ip_c[INET6_ADDRSTRLEN];
	const char		*ip_v;
	/* <sender>, its parts, HELO, %{r} */
	char			 sender[SPF_SENDER_MAX + 1];
	char			 local[SPF_SENDER_MAX + 1];
	char			 sdomain[SPF_SENDER_MAX + 1];
	char			 helo[SPF_HELO_MAX + 1];
	char			 receiver[SPF_RECEIVER_MAX + 1];
	char			 default_exp[SPF_EXPLAIN_MAX + 1];
	enum spf_scope		 scope;
	time_t			 now;

	/* %{p}: validated name of <ip>, once known */
	bool			 p_known;
	bool			 p_busy;	/* the PTR steps are for %{p} */
	enum p_for		 p_for;
	char			 p[SPF_DOMAIN_MAX + 1];

	struct frame		 frames[SPF_FRAMES_MAX];
	size_t			 nframes;
	unsigned		 lookups;
	unsigned		 voids;

	/* the mechanism being evaluated */
	char			 target[SPF_DOMAIN_MAX + 1];
	char			 names[SPF_NAMES_MAX][SPF_DOMAIN_MAX + 1];
	size_t			 nnames;
	size_t			 name_idx;
	char			 valid[SPF_NAMES_MAX][SPF_DOMAIN_MAX + 1];
	size_t			 nvalid;

	/* the exp= step */
	char			*exp_text;
	size_t			 exp_len;

	enum spf_result		 result;
	const char		*problem;
	char			 explanation[SPF_EXPLAIN_MAX + 1];
	char			 first_domain[SPF_DOMAIN_MAX + 1];
};

/* What evaluating a term did. */
enum term_outcome {
	TERM_NOMATCH = 0,
	TERM_MATCH,
	TERM_WAIT,		/* a query is outstanding */
	TERM_PUSHED,		/* an include frame was pushed */
	TERM_DONE,		/* the evaluation ended (error) */
};

static void run(struct spf_check *c);
static void on_dns(const struct dns_result *res, void *ctx);
static void frame_finish(struct spf_check *c, enum spf_result r);

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "permerror";
}

static enum spf_result
qualifier_result(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	default: return SPF_PASS;
	}
}

/* ---- ending ------------------------------------------------------------ */

static void
on_close(uv_handle_t *h)
{
	struct spf_check *c = h->data;
	size_t i;

	for (i = 0; i < c->nframes; i++) {
		free(c->frames[i].text);
		spf_record_deinit(&c->frames[i].rec);
	}
	free(c->exp_text);
	free(c);
}

static void
release(struct spf_check *c)
{
	c->finished = true;
	if (c->q != NULL) {
		dns_cancel(c->q);
		c->q = NULL;
	}
	(void)uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_close);
}

static void
deliver(struct spf_check *c)
{
	struct spf_report res;
	char esc[LOG_ESC_MAX];

	memset(&res, 0, sizeof(res));
	res.result = c->result;
	res.domain = c->first_domain;
	res.lookups = c->lookups;
	res.problem = c->problem;
	if (c->result == SPF_FAIL)
		res.explanation = c->explanation[0] != '\0' ? c->explanation :
		    c->default_exp;
	log_debug("spf domain=%s ip=%s result=%s lookups=%u%s%s",
	    log_escape(esc, sizeof(esc), c->first_domain,
	    strlen(c->first_domain)), c->ip_c, spf_result_name(c->result),
	    c->lookups, c->problem != NULL ? " problem=" : "",
	    c->problem != NULL ? c->problem : "");
	c->cb(&res, c->ctx);
	release(c);
}

/* End the whole evaluation now (errors, none at the top). */
static void
finish(struct spf_check *c, enum spf_result r, const char *problem)
{
	c->result = r;
	c->problem = problem;
	deliver(c);
}

/* ---- helpers ------------------------------------------------------------ */

static void
vars_init(const struct spf_check *c, const char *domain,
    struct spf_macro_vars *v)
{
	memset(v, 0, sizeof(*v));
	v->s = c->sender;
	v->l = c->local;
	v->o = c->sdomain;
	v->d = domain;
	v->i = c->ip_i;
	v->c = c->ip_c;
	v->v = c->ip_v;
	v->h = c->helo;
	v->p = c->p_known ? c->p : NULL;
	v->r = c->receiver[0] != '\0' ? c->receiver : NULL;
	v->t = c->now;
}

static struct frame *
top(struct spf_check *c)
{
	return &c->frames[c->nframes - 1];
}

static void
query(struct spf_check *c, enum spf_step step, const char *name,
    uint16_t qtype)
{
	c->step = step;
	c->q = dns_query(c->dns, name, qtype, on_dns, c);
}

static uint16_t
addr_qtype(const struct spf_check *c)
{
	return c->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
}

static bool
prefix_match(const void *a, const void *b, unsigned bits)
{
	const uint8_t *x = a, *y = b;
	unsigned bytes = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(x, y, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (x[bytes] & mask) == (y[bytes] & mask);
}

/* Any address of res (A or AAAA) within cidr bits of <ip>? */
static bool
addrs_match(const struct spf_check *c, const struct dns_result *res,
    unsigned cidr4, unsigned cidr6)
{
	size_t i;

	for (i = 0; i < res->count; i++) {
		const struct dns_addr *a = &res->addr[i];

		if (a->family != c->family)
			continue;
		if (c->family == AF_INET ?
		    prefix_match(&a->u.v4, &c->ip.v4, cidr4) :
		    prefix_match(&a->u.v6, &c->ip.v6, cidr6))
			return true;
	}
	return false;
}

/* A void lookup (RFC 7208 4.6.4): NXDOMAIN or no answers. Returns false
 * (and ends the evaluation) past the limit. */
static bool
count_void(struct spf_check *c)
{
	if (++c->voids > SPF_VOID_LOOKUPS_MAX) {
		finish(c, SPF_PERMERROR, "too many void DNS lookups");
		return false;
	}
	return true;
}

/* name equals domain or is below it, case-insensitively. */
static bool
name_within(const char *name, const char *domain)
{
	size_t n = strlen(name), d = strlen(domain);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (d > 0 && domain[d - 1] == '.')
		d--;
	if (n == d)
		return ascii_nieq(name, domain, d);
	return n > d && name[n - d - 1] == '.' &&
	    ascii_nieq(name + n - d, domain, d);
}

/* Expand a domain-spec for the top frame into c->target. Returns 1 ok,
 * 0 when %{p} must be looked up first (started), -1 when ended. */
static int
expand_domain(struct spf_check *c, const char *spec, size_t len,
    enum p_for pf)
{
	struct spf_macro_vars v;
	const char *err = NULL;

	if (!c->p_known && spf_macro_uses_p(spec, len)) {
		c->p_busy = true;
		c->p_for = pf;
		c->nvalid = 0;
		c->step = STEP_PTR;
		c->q = dns_query_ptr(c->dns, c->ip_c, on_dns, c);
		return 0;
	}
	vars_init(c, top(c)->domain, &v);
	if (spf_macro_expand(spec, len, SPF_MACRO_DOMAIN, &v, c->target,
	    sizeof(c->target), &err) < 0) {
		/* Syntax was checked at parse time: what is left is an
		 * expansion no DNS name can hold. */
		moat_strlcpy(c->target, "", sizeof(c->target));
	}
	return 1;
}

/* ---- the record --------------------------------------------------------- */

static void
frame_push(struct spf_check *c, enum frame_kind kind, const char *domain)
{
	struct frame *f = &c->frames[c->nframes++];

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	moat_strlcpy(f->domain, domain, sizeof(f->domain));
}

static void
frame_clear(struct frame *f)
{
	free(f->text);
	spf_record_deinit(&f->rec);
	memset(f, 0, sizeof(*f));
}

/* RFC 7208 4.5 (RFC 4406 4.4 for the spf2.0 scopes). */
static void
record_result(struct spf_check *c, const struct dns_result *res)
{
	struct frame *f = top(c);
	size_t i, off = 0, n1 = 0, n2 = 0, pick1 = 0, pick2 = 0, o1 = 0, o2 = 0;
	const struct dns_txt *t;
	const char *err = NULL;
	enum spf_version v;

	switch (res->status) {
	case DNS_OK:
		break;
	case DNS_TEMPFAIL:
		finish(c, SPF_TEMPERROR, "DNS failure looking up the record");
		return;
	case DNS_NXDOMAIN:
		if (c->scope == SPF_SCOPE_PRA && c->nframes == 1 &&
		    f->kind == FRAME_TOP) {
			/* RFC 4406 4.3: the PRA's domain does not exist */
			c->result = SPF_FAIL;
			deliver(c);
			return;
		}
		frame_finish(c, SPF_NONE);
		return;
	default:
		frame_finish(c, SPF_NONE);
		return;
	}
	for (i = 0; i < res->count; i++) {
		t = &res->txt[i];
		v = spf_record_version(t->s, t->len, c->scope, &off);
		if (v == SPF_VERSION_SPF1) {
			n1++;
			pick1 = i;
			o1 = off;
		} else if (v == SPF_VERSION_SPF2) {
			n2++;
			pick2 = i;
			o2 = off;
		}
	}
	if (n2 > 0) {
		n1 = n2;
		pick1 = pick2;
		o1 = o2;
	}
	if (n1 == 0) {
		frame_finish(c, SPF_NONE);
		return;
	}
	if (n1 > 1) {
		finish(c, SPF_PERMERROR, "more than one SPF record");
		return;
	}
	t = &res->txt[pick1];
	f->text = xmemdup(t->s, t->len + 1);
	f->text[t->len] = '\0';
	if (spf_record_parse(f->text + o1, t->len - o1, &f->rec, &err) < 0) {
		finish(c, SPF_PERMERROR, err);
		return;
	}
	f->loaded = true;
	run(c);
}

/* A frame has its result: return it to the include above, or end. */
static void
frame_finish(struct spf_check *c, enum spf_result r)
{
	struct frame *f = top(c);
	struct frame *parent;
	const struct spf_term *t;

	if (c->nframes == 1) {
		if (r == SPF_NONE && f->kind == FRAME_REDIRECT) {
			finish(c, SPF_PERMERROR, "redirect target has no "
			    "SPF record");
			return;
		}
		c->result = r;
		if (r == SPF_NONE)
			c->problem = "no SPF record";
		if (r == SPF_FAIL && f->rec.exp != NULL) {
			switch (expand_domain(c, f->rec.exp, f->rec.exp_len,
			    P_FOR_EXP_DOMAIN)) {
			case 0:
				return;
			default:
				break;
			}
			if (spf_domain_valid(c->target)) {
				query(c, STEP_EXP, c->target, DNS_TYPE_TXT);
				return;
			}
		}
		deliver(c);
		return;
	}
	/* RFC 7208 5.2: what an include's result means. */
	switch (r) {
	case SPF_TEMPERROR:
		finish(c, SPF_TEMPERROR, c->problem);
		return;
	case SPF_PERMERROR:
		finish(c, SPF_PERMERROR, c->problem);
		return;
	case SPF_NONE:
		finish(c, SPF_PERMERROR, "include target has no SPF record");
		return;
	default:
		break;
	}
	frame_clear(f);
	c->nframes--;
	parent = top(c);
	t = &parent->rec.terms[parent->next];
	if (r == SPF_PASS) {
		frame_finish(c, qualifier_result(t->qualifier));
		return;
	}
	parent->next++;
	parent->counted = false;
	run(c);
}

/* ---- terms -------------------------------------------------------------- */

static enum term_outcome
term_eval(struct spf_check *c, struct frame *f, const struct spf_term *t)
{
	switch (t->mech) {
	case SPF_MECH_ALL:
		return TERM_MATCH;
	case SPF_MECH_IP4:
		return c->family == AF_INET &&
		    prefix_match(&t->addr.v4, &c->ip.v4, t->cidr4) ?
		    TERM_MATCH : TERM_NOMATCH;
	case SPF_MECH_IP6:
		return c->family == AF_INET6 &&
		    prefix_match(&t->addr.v6, &c->ip.v6, t->cidr6) ?
		    TERM_MATCH : TERM_NOMATCH;
	default:
		break;
	}
	/* include a mx ptr exists: terms that cause DNS lookups */
	if (!f->counted) {
		f->counted = true;
		if (++c->lookups > SPF_LOOKUPS_MAX) {
			finish(c, SPF_PERMERROR, "too many DNS lookups");
			return TERM_DONE;
		}
	}
	if (t->domain_len > 0) {
		if (expand_domain(c, t->domain, t->domain_len,
		    P_FOR_TERM) == 0)
			return TERM_WAIT;
	} else
		moat_strlcpy(c->target, f->domain, sizeof(c->target));
	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		if (!spf_domain_valid(c->target)) {
			finish(c, SPF_PERMERROR, "include of a malformed "
			    "domain");
			return TERM_DONE;
		}
		if (c->nframes == SPF_FRAMES_MAX)
			fatalx("spf: include depth beyond the lookup limit");
		frame_push(c, FRAME_INCLUDE, c->target);
		return TERM_PUSHED;
	case SPF_MECH_A:
		query(c, STEP_ADDR, c->target, addr_qtype(c));
		return TERM_WAIT;
	case SPF_MECH_EXISTS:
		/* RFC 7208 5.7: always an A query */
		query(c, STEP_ADDR, c->target, DNS_TYPE_A);
		return TERM_WAIT;
	case SPF_MECH_MX:
		query(c, STEP_MX, c->target, DNS_TYPE_MX);
		return TERM_WAIT;
	case SPF_MECH_PTR:
		c->nvalid = 0;
		c->step = STEP_PTR;
		c->q = dns_query_ptr(c->dns, c->ip_c, on_dns, c);
		return TERM_WAIT;
	default:
		fatalx("spf: mechanism %d not handled", (int)t->mech);
	}
}

/* The current term matched or not: go on. */
static void
term_done(struct spf_check *c, bool match)
{
	struct frame *f = top(c);

	if (match) {
		frame_finish(c, qualifier_result(f->rec.terms[f->next].qualifier));
		return;
	}
	f->next++;
	f->counted = false;
	run(c);
}

/* Evaluate until a query is outstanding or the check ended. */
static void
run(struct spf_check *c)
{
	struct frame *f;
	enum term_outcome o;

	for (;;) {
		f = top(c);
		if (!f->loaded) {
			if (!spf_domain_valid(f->domain)) {
				frame_finish(c, SPF_NONE);
				return;
			}
			query(c, STEP_RECORD, f->domain, DNS_TYPE_TXT);
			return;
		}
		if (f->next < f->rec.nterms) {
			o = term_eval(c, f, &f->rec.terms[f->next]);
			switch (o) {
			case TERM_NOMATCH:
				f->next++;
				f->counted = false;
				continue;
			case TERM_MATCH:
				frame_finish(c, qualifier_result(
				    f->rec.terms[f->next].qualifier));
				return;
			case TERM_PUSHED:
				continue;
			case TERM_WAIT:
			case TERM_DONE:
				return;
			}
		}
		if (f->rec.redirect == NULL) {
			frame_finish(c, SPF_NEUTRAL);	/* 4.7 */
			return;
		}
		/* RFC 7208 6.1 */
		if (!f->counted) {
			f->counted = true;
			if (++c->lookups > SPF_LOOKUPS_MAX) {
				finish(c, SPF_PERMERROR,
				    "too many DNS lookups");
				return;
			}
		}
		if (expand_domain(c, f->rec.redirect, f->rec.redirect_len,
		    P_FOR_REDIRECT) == 0)
			return;
		if (!spf_domain_valid(c->target)) {
			finish(c, SPF_PERMERROR, "redirect to a malformed "
			    "domain");
			return;
		}
		frame_clear(f);
		f->kind = FRAME_REDIRECT;
		moat_strlcpy(f->domain, c->target, sizeof(f->domain));
	}
}

/* ---- DNS answers -------------------------------------------------------- */

/* Start the address lookup of names[name_idx], or report no match. */
static void
next_name(struct spf_check *c, enum spf_step step)
{
	if (c->name_idx < c->nnames) {
		query(c, step, c->names[c->name_idx], addr_qtype(c));
		return;
	}
	if (step == STEP_MX_ADDR) {
		term_done(c, false);
		return;
	}
	/* PTR names all tried */
	if (!c->p_busy) {
		term_done(c, false);
		return;
	}
	/* %{p} (7.3): the <domain> itself, else a subdomain, else any */
	{
		const char *d = top(c)->domain, *pick = NULL;
		size_t i;

		for (i = 0; i < c->nvalid && pick == NULL; i++)
			if (ascii_ieq(c->valid[i], d))
				pick = c->valid[i];
		for (i = 0; i < c->nvalid && pick == NULL; i++)
			if (name_within(c->valid[i], d))
				pick = c->valid[i];
		if (pick == NULL && c->nvalid > 0)
			pick = c->valid[0];
		moat_strlcpy(c->p, pick != NULL ? pick : "unknown",
		    sizeof(c->p));
	}
	c->p_known = true;
	c->p_busy = false;
	switch (c->p_for) {
	case P_FOR_TERM:
	case P_FOR_REDIRECT:
		run(c);
		return;
	case P_FOR_EXP_DOMAIN:
		frame_finish(c, SPF_FAIL);
		return;
	case P_FOR_EXP_TEXT:
		{
			struct spf_macro_vars v;
			const char *err = NULL;

			vars_init(c, top(c)->domain, &v);
			if (spf_macro_expand(c->exp_text, c->exp_len,
			    SPF_MACRO_EXPLAIN, &v, c->explanation,
			    sizeof(c->explanation), &err) < 0)
				c->explanation[0] = '\0';
			deliver(c);
			return;
		}
	}
}

/* Names in dns results are in presentation form with \DDD escapes (see
 * dns.h); queries take the octets themselves. A name with an escaped '.'
 * inside a label cannot be asked for that way: -1, skip it. */
static int
name_unescape(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	while (*in != '\0') {
		char ch = *in++;

		if (ch == '\\') {
			if (in[0] >= '0' && in[0] <= '9' && in[1] >= '0' &&
			    in[1] <= '9' && in[2] >= '0' && in[2] <= '9') {
				int v = (in[0] - '0') * 100 +
				    (in[1] - '0') * 10 + (in[2] - '0');

				if (v == 0 || v > 255 || v == '.')
					return -1;
				ch = (char)v;
				in += 3;
			} else
				return -1;	/* "\." and the like */
		}
		if (n + 1 >= outlen)
			return -1;
		out[n++] = ch;
	}
	out[n] = '\0';
	return 0;
}

static void
names_copy(struct spf_check *c, const struct dns_result *res, bool mx)
{
	/* MX: more than 10 is a permerror before this. PTR: names past the
	 * first 10 are ignored (RFC 7208 4.6.4). */
	size_t i, n = res->count < SPF_NAMES_MAX ? res->count : SPF_NAMES_MAX;

	c->nnames = 0;
	c->name_idx = 0;
	for (i = 0; i < n; i++) {
		const char *name = mx ? res->mx[i].host : res->names[i];
		char *dst = c->names[c->nnames];

		if (strcmp(name, ".") == 0)
			continue;	/* null MX: no host */
		if (name_unescape(name, dst, sizeof(c->names[0])) < 0)
			continue;
		if (!mx && !c->p_busy && !name_within(dst, c->target))
			continue;	/* cannot match: no need to validate */
		c->nnames++;
	}
}

static void
exp_result(struct spf_check *c, const struct dns_result *res)
{
	struct spf_macro_vars v;
	const char *err = NULL;
	const struct dns_txt *t;

	/* RFC 7208 6.2: any problem: as if there were no exp= */
	if (res->status != DNS_OK || res->count != 1 ||
	    res->txt[0].len > SPF_EXP_TXT_MAX ||
	    strlen(res->txt[0].s) != res->txt[0].len) {
		deliver(c);
		return;
	}
	t = &res->txt[0];
	if (spf_macro_check(t->s, t->len, SPF_MACRO_EXPLAIN, &err) < 0) {
		deliver(c);
		return;
	}
	if (!c->p_known && spf_macro_uses_p(t->s, t->len)) {
		c->exp_text = xmemdup(t->s, t->len + 1);
		c->exp_len = t->len;
		c->p_busy = true;
		c->p_for = P_FOR_EXP_TEXT;
		c->nvalid = 0;
		c->step = STEP_PTR;
		c->q = dns_query_ptr(c->dns, c->ip_c, on_dns, c);
		return;
	}
	vars_init(c, top(c)->domain, &v);
	if (spf_macro_expand(t->s, t->len, SPF_MACRO_EXPLAIN, &v,
	    c->explanation, sizeof(c->explanation), &err) < 0)
		c->explanation[0] = '\0';
	deliver(c);
}


/* What an address and an MX lookup share: a DNS failure ends the check
 * (temperror), an empty answer is a void lookup (4.6.4) and matches
 * nothing, another error matches nothing. Returns true when res settled
 * the term (or the check) that way. */
static bool
lookup_settled(struct spf_check *c, const struct dns_result *res)
{
	if (res->status == DNS_TEMPFAIL) {
		finish(c, SPF_TEMPERROR, "DNS failure");
		return true;
	}
	if (res->status == DNS_NXDOMAIN || res->status == DNS_NODATA ||
	    (res->status == DNS_OK && res->count == 0)) {
		if (count_void(c))
			term_done(c, false);
		return true;
	}
	if (res->status != DNS_OK) {
		term_done(c, false);
		return true;
	}
	return false;
}
static void
on_dns(const struct dns_result *res, void *ctx)
{
	struct spf_check *c = ctx;
	size_t i;

	c->q = NULL;
	switch (c->step) {
	case STEP_RECORD:
		record_result(c, res);
		return;
	case STEP_ADDR:
		if (lookup_settled(c, res))
			return;
		{
			const struct spf_term *t =
			    &top(c)->rec.terms[top(c)->next];

			term_done(c, t->mech == SPF_MECH_EXISTS ||
			    addrs_match(c, res, t->cidr4, t->cidr6));
		}
		return;
	case STEP_MX:
		if (lookup_settled(c, res))
			return;
		if (res->count > SPF_MX_NAMES_MAX) {
			finish(c, SPF_PERMERROR, "more than 10 MX names");
			return;
		}
		names_copy(c, res, true);
		next_name(c, STEP_MX_ADDR);
		return;
	case STEP_MX_ADDR:
		if (res->status == DNS_TEMPFAIL) {
			finish(c, SPF_TEMPERROR, "DNS failure");
			return;
		}
		if (res->status == DNS_OK) {
			const struct spf_term *t =
			    &top(c)->rec.terms[top(c)->next];

			if (addrs_match(c, res, t->cidr4, t->cidr6)) {
				term_done(c, true);
				return;
			}
		}
		c->name_idx++;
		next_name(c, STEP_MX_ADDR);
		return;
	case STEP_PTR:
		/* RFC 7208 5.5: a failed PTR lookup is no match */
		if (res->status != DNS_OK) {
			if (!c->p_busy && (res->status == DNS_NXDOMAIN ||
			    res->status == DNS_NODATA) && !count_void(c))
				return;
			c->nnames = 0;
			c->name_idx = 0;
			next_name(c, STEP_PTR_ADDR);
			return;
		}
		names_copy(c, res, false);
		next_name(c, STEP_PTR_ADDR);
		return;
	case STEP_PTR_ADDR:
		if (res->status == DNS_OK) {
			for (i = 0; i < res->count; i++)
				if (res->addr[i].family == c->family &&
				    (c->family == AF_INET ?
				    memcmp(&res->addr[i].u.v4, &c->ip.v4, 4) :
				    memcmp(&res->addr[i].u.v6, &c->ip.v6,
				    16)) == 0)
					break;
			if (i < res->count) {
				if (!c->p_busy) {
					term_done(c, true);
					return;
				}
				moat_strlcpy(c->valid[c->nvalid++],
				    c->names[c->name_idx],
				    sizeof(c->valid[0]));
			}
		}
		c->name_idx++;
		next_name(c, STEP_PTR_ADDR);
		return;
	case STEP_EXP:
		exp_result(c, res);
		return;
	case STEP_NONE:
		break;
	}
	fatalx("spf: DNS answer in no step");
}

/* ---- start, time limit, cancel ----------------------------------------- */

static void
on_timer(uv_timer_t *t)
{
	struct spf_check *c = t->data;

	if (!c->started) {
		c->started = true;
		if (uv_timer_start(&c->timer, on_timer, c->timeout_ms, 0) != 0)
			fatalx("spf: uv_timer_start failed");
		run(c);
		return;
	}
	if (c->q != NULL) {
		dns_cancel(c->q);
		c->q = NULL;
	}
	finish(c, SPF_TEMPERROR, "SPF evaluation time limit");
}

static int
set_ip(struct spf_check *c, const char *ip)
{
	struct in6_addr a6;

	if (inet_pton(AF_INET, ip, &c->ip.v4) == 1) {
		c->family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			/* RFC 7208 5: an IPv4 client seen through an IPv6
			 * socket is an IPv4 client. */
			c->family = AF_INET;
			memcpy(&c->ip.v4, &a6.s6_addr[12], 4);
		} else {
			c->family = AF_INET6;
			c->ip.v6 = a6;
		}
	} else
		return -1;
	spf_macro_ip(c->family, &c->ip, c->ip_i, sizeof(c->ip_i), c->ip_c,
	    sizeof(c->ip_c), &c->ip_v);
	return 0;
}

struct spf_check *
spf_check_start(uv_loop_t *loop, struct dns *dns,
    const struct spf_request *req, spf_cb *cb, void *ctx,
    const char **error_r)
{
	const char *sender = req->sender != NULL ? req->sender : "";
	const char *helo = req->helo != NULL ? req->helo : "";
	const char *at, *domain;
	struct spf_check *c;

	if (req->identity == SPF_ID_PRA && !(req->flags & SPF_F_SENDER_ID)) {
		*error_r = "Sender ID is not enabled";
		return NULL;
	}
	if (req->ip == NULL) {
		*error_r = "no client address";
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	if (set_ip(c, req->ip) < 0) {
		free(c);
		*error_r = "client address is not an IP address";
		return NULL;
	}
	c->loop = loop;
	c->dns = dns;
	c->cb = cb;
	c->ctx = ctx;
	c->timeout_ms = req->timeout_ms != 0 ? req->timeout_ms :
	    SPF_TIMEOUT_DEFAULT_MS;
	c->scope = req->identity == SPF_ID_PRA ? SPF_SCOPE_PRA :
	    SPF_SCOPE_SPF1;
	c->now = time(NULL);
	moat_strlcpy(c->helo, helo, sizeof(c->helo));
	moat_strlcpy(c->receiver, req->receiver != NULL ? req->receiver : "",
	    sizeof(c->receiver));
	moat_strlcpy(c->default_exp, req->default_explanation != NULL ?
	    req->default_explanation : SPF_EXPLANATION_DEFAULT,
	    sizeof(c->default_exp));

	/* RFC 7208 2.3, 2.4: HELO, and MAIL FROM:<> are postmaster@helo */
	if (req->identity == SPF_ID_HELO || sender[0] == '\0') {
		moat_strlcpy(c->local, "postmaster", sizeof(c->local));
		domain = helo;
	} else if ((at = strrchr(sender, '@')) != NULL) {
		size_t llen = (size_t)(at - sender);

		/* 4.3: no local-part: "postmaster" */
		if (llen == 0 || llen >= sizeof(c->local))
			moat_strlcpy(c->local, llen == 0 ? "postmaster" : "",
			    sizeof(c->local));
		else {
			memcpy(c->local, sender, llen);
			c->local[llen] = '\0';
		}
		domain = at + 1;
	} else {
		moat_strlcpy(c->local, "postmaster", sizeof(c->local));
		domain = sender;
	}
	moat_strlcpy(c->sdomain, domain, sizeof(c->sdomain));
	if (snprintf(c->sender, sizeof(c->sender), "%s@%s", c->local,
	    c->sdomain) >= (int)sizeof(c->sender))
		c->sdomain[0] = '\0';	/* too long: not a valid domain */
	moat_strlcpy(c->first_domain, c->sdomain, sizeof(c->first_domain));

	/* 4.3: a malformed or single-label domain, or a literal: none */
	frame_push(c, FRAME_TOP, c->sdomain);
	if (!spf_domain_valid(c->sdomain) || c->sdomain[0] == '[' ||
	    strlen(c->sdomain) >= sizeof(c->frames[0].domain))
		c->frames[0].domain[0] = '\0';

	if (uv_timer_init(loop, &c->timer) != 0)
		fatalx("spf: uv_timer_init failed");
	c->timer.data = c;
	/* The evaluation starts from the loop: the callback never runs
	 * inside this call. */
	if (uv_timer_start(&c->timer, on_timer, 0, 0) != 0)
		fatalx("spf: uv_timer_start failed");
	return c;
}

void
spf_check_cancel(struct spf_check *c)
{
	if (c == NULL || c->finished)
		return;
	release(c);
}

/* dmarc_check: DMARC policy discovery over the dns module (RFC 7489
 * 6.6.3): _dmarc.<From domain>, then, when that set holds no DMARC
 * record, _dmarc.<Organizational Domain>; then dmarc_evaluate. Also
 * the store glue for aggregate-report rows. */
#include "dmarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"
#include "xalloc.h"

#define DMARC_QNAME_PREFIX	"_dmarc."

struct dmarc_check {
	uv_loop_t	*loop;
	struct dns	*dns;
	dmarc_cb	*cb;
	void		*ctx;
	struct dns_query *q;
	uv_timer_t	 timer;		/* for results known at once */
	bool		 timer_used;
	bool		 at_org;	/* second query, at the org domain */
	struct dmarc_auth in;
	struct dkim_result *dkim;
	struct dmarc_result res;
	enum dmarc_status early;	/* status when no query is made */
	char		 from[DMARC_DOMAIN_MAX + 1];
	char		 org[DMARC_DOMAIN_MAX + 1];
	char		 spf_domain[DMARC_DOMAIN_MAX + 1];
	char		 from_error[DKIM_REASON_MAX];
};

static void
check_free_cb(uv_handle_t *h)
{
	struct dmarc_check *c = h->data;

	free(c->dkim);
	free(c);
}

static void
check_free(struct dmarc_check *c)
{
	if (c->timer_used) {
		(void)uv_timer_stop(&c->timer);
		uv_close((uv_handle_t *)&c->timer, check_free_cb);
		return;
	}
	free(c->dkim);
	free(c);
}

static void
deliver(struct dmarc_check *c)
{
	c->cb(&c->res, c->ctx);
	check_free(c);
}

static void
finish_error(struct dmarc_check *c, enum dmarc_status st, const char *why)
{
	dmarc_evaluate(NULL, NULL, &c->in, &c->res);
	c->res.status = st;
	c->res.reason = why;
	deliver(c);
}

static void
query(struct dmarc_check *c, const char *domain);

static void
on_txt(const struct dns_result *res, void *ctx)
{
	struct dmarc_check *c = ctx;
	struct dmarc_record rec;
	const char *error = "";

	c->q = NULL;
	switch (res->status) {
	case DNS_OK:
		switch (dmarc_record_select(res->txt, res->count, &rec,
		    &error)) {
		case DMARC_SELECT_FOUND:
			dmarc_evaluate(&rec, c->at_org ? c->org : c->from,
			    &c->in, &c->res);
			deliver(c);
			return;
		case DMARC_SELECT_EMPTY:
			break;
		case DMARC_SELECT_MULTIPLE:
			finish_error(c, DMARC_NONE, "several DMARC records");
			return;
		case DMARC_SELECT_INVALID:
			finish_error(c, DMARC_NONE, "invalid DMARC record");
			return;
		}
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		break;
	case DNS_TEMPFAIL:
		finish_error(c, DMARC_TEMPERROR,
		    "DMARC policy lookup failed temporarily");
		return;
	case DNS_PERMFAIL:
	default:
		/* A malformed or oversized answer: no usable policy. */
		finish_error(c, DMARC_NONE, "DMARC policy lookup failed");
		return;
	}
	if (!c->at_org && strcmp(c->org, c->from) != 0) {
		c->at_org = true;
		query(c, c->org);
		return;
	}
	finish_error(c, DMARC_NONE, "no DMARC policy");
}

static void
query(struct dmarc_check *c, const char *domain)
{
	char name[DMARC_DOMAIN_MAX + sizeof(DMARC_QNAME_PREFIX)];

	/* domain is a checked LDH name: the result always fits */
	(void)snprintf(name, sizeof(name), "%s%s", DMARC_QNAME_PREFIX, domain);
	c->q = dns_query_txt(c->dns, name, on_txt, c);
}

static void
on_timer(uv_timer_t *t)
{
	struct dmarc_check *c = t->data;

	finish_error(c, c->early, c->from_error);
}

struct dmarc_check *
dmarc_check_start(uv_loop_t *loop, struct dns *dns,
    const struct dmarc_auth *in, dmarc_cb *cb, void *ctx)
{
	struct dmarc_check *c = xcalloc(1, sizeof(*c));
	size_t i;

	c->loop = loop;
	c->dns = dns;
	c->cb = cb;
	c->ctx = ctx;
	c->in = *in;
	if (in->ndkim > 0) {
		c->dkim = xcalloc(in->ndkim, sizeof(*c->dkim));
		for (i = 0; i < in->ndkim; i++)
			c->dkim[i] = in->dkim[i];
	}
	c->in.dkim = c->dkim;
	moat_strlcpy(c->spf_domain, in->spf_domain != NULL ? in->spf_domain :
	    "", sizeof(c->spf_domain));
	c->in.spf_domain = c->spf_domain;
	moat_strlcpy(c->from_error, in->from_error != NULL ? in->from_error :
	    "no usable From domain", sizeof(c->from_error));
	c->in.from_error = c->from_error;
	c->early = DMARC_PERMERROR;
	if (in->from_domain != NULL && moat_strlcpy(c->from, in->from_domain,
	    sizeof(c->from)) < sizeof(c->from) &&
	    dmarc_org_domain(c->from, c->org, sizeof(c->org)) == 0) {
		ascii_lower(c->from);
		if (c->from[0] != '\0' && c->from[strlen(c->from) - 1] == '.')
			c->from[strlen(c->from) - 1] = '\0';
		c->in.from_domain = c->from;
		query(c, c->from);
		return c;
	}
	c->in.from_domain = NULL;
	/* No query to make: answer from the loop all the same. */
	if (uv_timer_init(loop, &c->timer) != 0) {
		free(c->dkim);
		free(c);
		return NULL;
	}
	c->timer_used = true;
	c->timer.data = c;
	if (uv_timer_start(&c->timer, on_timer, 0, 0) != 0) {
		check_free(c);
		return NULL;
	}
	return c;
}

void
dmarc_check_cancel(struct dmarc_check *c)
{
	if (c == NULL)
		return;
	if (c->q != NULL)
		dns_cancel(c->q);
	c->q = NULL;
	check_free(c);
}

int
dmarc_report_store(struct store *st, const struct dmarc_report_row *row,
    const char **error_r)
{
	struct store_dmarc_report r = {
		.time = row->time,
		.source_ip = row->source_ip,
		.header_from = row->header_from,
		.envelope_from = row->envelope_from,
		.policy_domain = row->policy_domain,
		.policy = row->policy,
		.disposition = row->disposition,
		.dmarc = row->dmarc,
		.dkim = row->dkim,
		.dkim_domain = row->dkim_domain,
		.dkim_aligned = row->dkim_aligned,
		.spf = row->spf,
		.spf_domain = row->spf_domain,
		.spf_aligned = row->spf_aligned,
		.pct = row->pct,
	};

	return store_dmarc_report_add(st, &r, error_r);
}

/* outbound: destinations, next-hop resolution and connection reuse for
 * remote delivery. Runs on the queue runner's loop thread. */
#include "outbound.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dns.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define OB_MX_MAX 10		/* MX hosts tried per destination */
#define OB_HOPS_MAX 20		/* addresses tried per destination */
#define OB_KEY_MAX 300

enum dest_rstate { R_NEW, R_RESOLVING, R_READY, R_FAILED };

struct hop {
	char		 ip[64];
	uint16_t	 port;
	char		 host[256];	/* name for TLS/SNI and logs */
};

struct delivery;

struct dest {
	struct outbound		*ob;
	char			 key[OB_KEY_MAX];
	char			 name[256];	/* domain or route host */
	uint16_t		 port;
	bool			 no_mx;
	const struct transport_route *route;
	enum tls_policy		 tls;
	enum dest_rstate	 rstate;
	struct hop		 hops[OB_HOPS_MAX];
	size_t			 nhops;
	struct smtp_client_result rerr;		/* resolution failure */
	/* resolution in progress */
	char			 mxhosts[OB_MX_MAX][256];
	struct hop		 found[OB_MX_MAX][4];
	size_t			 nfound[OB_MX_MAX];
	size_t			 nmx;
	unsigned		 outstanding;
	struct delivery		*head, *tail;
	unsigned		 npending;
	unsigned		 nconns;
	struct dest		*next;
};

struct delivery {
	struct outbound_job	*job;
	struct dest		*dest;
	size_t			*idx;		/* indexes into job->rcpts */
	const char		**rcpts;
	size_t			 n;
	struct smtp_client_result *results;
	struct smtp_client_msg	 msg;
	struct delivery		*next;
};

struct oconn {
	struct outbound		*ob;
	struct dest		*dest;
	size_t			 hop;
	bool			 was_ready;
	unsigned		 sent;
	struct delivery		*cur;
	struct smtp_client_result last_err;
};

struct outbound {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct dns		*dns;
	SSL_CTX			*client_ctx;
	struct dest		*dests;
	unsigned		 busy;
};

static void dest_kick(struct dest *d);

struct outbound *
outbound_new(uv_loop_t *loop, const struct config *cfg, struct dns *dns,
    SSL_CTX *client_ctx)
{
	struct outbound *ob = xcalloc(1, sizeof(*ob));

	ob->loop = loop;
	ob->cfg = cfg;
	ob->dns = dns;
	ob->client_ctx = client_ctx;
	return ob;
}

unsigned
outbound_busy(const struct outbound *ob)
{
	return ob->busy;
}

static void
delivery_finish(struct delivery *dl)
{
	struct outbound_job *job = dl->job;
	size_t i;

	for (i = 0; i < dl->n; i++)
		job->results[dl->idx[i]] = dl->results[i];
	free(dl->idx);
	free(dl->rcpts);
	free(dl->results);
	free(dl);
	if (--job->remaining == 0)
		job->done(job);
}

static void
dest_free_if_idle(struct dest *d)
{
	struct outbound *ob = d->ob;
	struct dest **pp;

	if (d->npending > 0 || d->nconns > 0 || d->outstanding > 0)
		return;
	for (pp = &ob->dests; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	free(d);
}

static struct delivery *
dest_take(struct dest *d)
{
	struct delivery *dl = d->head;

	if (dl == NULL)
		return NULL;
	d->head = dl->next;
	if (d->head == NULL)
		d->tail = NULL;
	d->npending--;
	dl->next = NULL;
	return dl;
}

/* Every waiting delivery of d gets r. */
static void
dest_fail_all(struct dest *d, const struct smtp_client_result *r)
{
	struct delivery *dl;
	size_t i;

	while ((dl = dest_take(d)) != NULL) {
		for (i = 0; i < dl->n; i++)
			dl->results[i] = *r;
		delivery_finish(dl);
	}
}

/* ---- connections ------------------------------------------------------- */

static void oconn_start(struct oconn *oc);

static void
oconn_send_next(struct oconn *oc, struct smtp_client *cl)
{
	const struct config *cfg = oc->ob->cfg;

	oc->cur = oc->sent < cfg->messages_per_connection ?
	    dest_take(oc->dest) : NULL;
	if (oc->cur == NULL) {
		smtp_client_quit(cl);
		return;
	}
	smtp_client_send(cl, &oc->cur->msg);
}

static void
on_client_ready(void *ctx, struct smtp_client *cl)
{
	struct oconn *oc = ctx;

	oc->was_ready = true;
	log_info("smtp-out dest=%s host=%s ip=%s event=connected tls=\"%s\"",
	    oc->dest->key, oc->dest->hops[oc->hop].host,
	    oc->dest->hops[oc->hop].ip, smtp_client_tls_info(cl));
	oconn_send_next(oc, cl);
}

static void
on_client_sent(void *ctx, struct smtp_client *cl,
    struct smtp_client_msg *msg)
{
	struct oconn *oc = ctx;
	struct delivery *dl = oc->cur;
	const struct hop *h = &oc->dest->hops[oc->hop];
	size_t i;

	(void)msg;
	oc->cur = NULL;
	oc->sent++;
	for (i = 0; i < dl->n; i++) {
		log_info("smtp-out id=%s to=<%s> relay=%s[%s]:%u status=%s "
		    "reply=\"%s\"", dl->job->id, dl->rcpts[i], h->host, h->ip,
		    (unsigned)h->port, dl->results[i].code / 100 == 2 ? "sent" :
		    dl->results[i].perm ? "bounced" : "deferred",
		    dl->results[i].text);
		if (dl->job->remote_mta != NULL)
			moat_strlcpy(dl->job->remote_mta[dl->idx[i]], h->host,
			    sizeof(dl->job->remote_mta[0]));
	}
	delivery_finish(dl);
	/* Ready for the next message, unless the connection is going. */
	if (smtp_client_ready(cl))
		oconn_send_next(oc, cl);
}

static void
on_client_closed(void *ctx, struct smtp_client *cl,
    const struct smtp_client_result *err)
{
	struct oconn *oc = ctx;
	struct dest *d = oc->dest;

	(void)cl;
	if (!oc->was_ready) {
		const struct hop *h = &d->hops[oc->hop];

		log_warnx("smtp-out dest=%s host=%s ip=%s event=failed "
		    "reason=\"%s\"", d->key, h->host, h->ip, err->text);
		oc->last_err = *err;
		if (err->code / 100 != 5 && oc->hop + 1 < d->nhops) {
			oc->hop++;
			oconn_start(oc);
			return;
		}
		/* No host took the connection: everything waiting for this
		 * destination fails now (temporarily, unless refused with a
		 * 5xx greeting), instead of hammering it. */
		dest_fail_all(d, err);
	}
	d->nconns--;
	oc->ob->busy--;
	free(oc);
	if (d->npending > 0 && d->nconns == 0)
		dest_kick(d);
	dest_free_if_idle(d);
}

static const struct smtp_client_cbs client_cbs = {
	.ready = on_client_ready,
	.sent = on_client_sent,
	.closed = on_client_closed,
};

static void
oconn_start(struct oconn *oc)
{
	struct dest *d = oc->dest;
	const struct config *cfg = oc->ob->cfg;
	struct smtp_client_opts opts = {
		.helo = cfg->hostname,
		.tls = d->tls,
		.tls_ctx = oc->ob->client_ctx,
		.connect_timeout = cfg->connect_timeout,
		.timeout = cfg->smtp_timeout,
	};

	for (; oc->hop < d->nhops; oc->hop++) {
		const struct hop *h = &d->hops[oc->hop];

		opts.host = h->host;
		opts.implicit_tls = h->port == 465;
		if (d->route != NULL && d->route->user[0] != '\0') {
			opts.auth_user = d->route->user;
			opts.auth_pass = d->route->password;
		}
		if (smtp_client_new(oc->ob->loop, h->ip, h->port, &opts,
		    &client_cbs, oc) != NULL)
			return;
	}
	/* Only reachable with unusable addresses. */
	d->nconns--;
	oc->ob->busy--;
	free(oc);
	{
		struct smtp_client_result r = { 0, false, "no usable address" };

		dest_fail_all(d, &r);
	}
	dest_free_if_idle(d);
}

static void
dest_connect(struct dest *d)
{
	unsigned want = d->npending < d->ob->cfg->dest_concurrency ?
	    d->npending : d->ob->cfg->dest_concurrency;

	while (d->nconns < want) {
		struct oconn *oc = xcalloc(1, sizeof(*oc));

		oc->ob = d->ob;
		oc->dest = d;
		d->nconns++;
		d->ob->busy++;
		oconn_start(oc);
		if (d->npending == 0)
			break;
	}
}

/* ---- resolution -------------------------------------------------------- */

static void
dest_resolved(struct dest *d)
{
	size_t i, j;

	d->nhops = 0;
	for (i = 0; i < d->nmx; i++)
		for (j = 0; j < d->nfound[i] && d->nhops < OB_HOPS_MAX; j++)
			d->hops[d->nhops++] = d->found[i][j];
	if (d->nhops == 0 && d->rstate != R_FAILED) {
		d->rstate = R_FAILED;
		snprintf(d->rerr.text, sizeof(d->rerr.text), "4.4.4 no "
		    "address found for %.200s", d->name);
	}
	if (d->rstate != R_FAILED)
		d->rstate = R_READY;
	dest_kick(d);
	dest_free_if_idle(d);
}

struct addr_query {
	struct dest	*d;
	size_t		 mx;
};

static void
on_addr(const struct dns_result *res, void *ctx)
{
	struct addr_query *aq = ctx;
	struct dest *d = aq->d;
	size_t i, mx = aq->mx;

	free(aq);
	d->outstanding--;
	for (i = 0; res->status == DNS_OK && i < res->count &&
	    d->nfound[mx] < 4; i++) {
		struct hop *h = &d->found[mx][d->nfound[mx]++];

		moat_strlcpy(h->ip, res->addr[i].str, sizeof(h->ip));
		moat_strlcpy(h->host, d->mxhosts[mx], sizeof(h->host));
		h->port = d->port;
	}
	if (d->outstanding == 0)
		dest_resolved(d);
}

static void
resolve_hosts(struct dest *d)
{
	size_t i;

	for (i = 0; i < d->nmx; i++) {
		struct addr_query *a4 = xcalloc(1, sizeof(*a4)),
		    *a6 = xcalloc(1, sizeof(*a6));

		a4->d = a6->d = d;
		a4->mx = a6->mx = i;
		d->outstanding += 2;
		dns_query_a(d->ob->dns, d->mxhosts[i], on_addr, a4);
		dns_query_aaaa(d->ob->dns, d->mxhosts[i], on_addr, a6);
	}
}

static void
on_mx(const struct dns_result *res, void *ctx)
{
	struct dest *d = ctx;
	size_t i, n = 0;

	d->outstanding--;
	switch (res->status) {
	case DNS_OK:
		if (res->null_mx) {
			d->rstate = R_FAILED;
			d->rerr.code = 556;
			d->rerr.perm = true;
			snprintf(d->rerr.text, sizeof(d->rerr.text), "556 "
			    "5.1.10 %.200s does not accept mail (null MX)",
			    d->name);
			break;
		}
		for (i = 0; i < res->count && n < OB_MX_MAX; i++) {
			if (strcmp(res->mx[i].host, ".") == 0)
				continue;
			moat_strlcpy(d->mxhosts[n++], res->mx[i].host,
			    sizeof(d->mxhosts[0]));
		}
		/* Shuffle hosts of equal preference (RFC 5321 5.1). */
		for (i = 0; i + 1 < n; i++) {
			size_t j = i, k;
			uint32_t r;

			while (j + 1 < n && res->mx[j + 1].pref ==
			    res->mx[i].pref)
				j++;
			for (k = j; k > i; k--) {
				char tmp[256];
				size_t pick;

				if (getrandom(&r, sizeof(r), 0) !=
				    (ssize_t)sizeof(r))
					r = 0;
				pick = i + r % (k - i + 1);
				memcpy(tmp, d->mxhosts[k], sizeof(tmp));
				memcpy(d->mxhosts[k], d->mxhosts[pick],
				    sizeof(tmp));
				memcpy(d->mxhosts[pick], tmp, sizeof(tmp));
			}
			i = j;
		}
		d->nmx = n;
		break;
	case DNS_NODATA:
		/* No MX: the domain itself is the implicit MX (5321 5.1). */
		moat_strlcpy(d->mxhosts[0], d->name, sizeof(d->mxhosts[0]));
		d->nmx = 1;
		break;
	case DNS_NXDOMAIN:
		d->rstate = R_FAILED;
		d->rerr.code = 550;
		d->rerr.perm = true;
		snprintf(d->rerr.text, sizeof(d->rerr.text), "5.1.2 domain "
		    "%.200s not found", d->name);
		break;
	default:
		d->rstate = R_FAILED;
		snprintf(d->rerr.text, sizeof(d->rerr.text), "4.4.3 MX lookup "
		    "for %.120s failed: %.80s", d->name, res->why ? res->why :
		    "temporary failure");
		break;
	}
	if (d->rstate == R_FAILED || d->nmx == 0) {
		dest_resolved(d);
		return;
	}
	resolve_hosts(d);
}

static void
dest_resolve(struct dest *d)
{
	struct in6_addr a6;
	struct in_addr a4;

	d->rstate = R_RESOLVING;
	if (inet_pton(AF_INET, d->name, &a4) == 1 ||
	    inet_pton(AF_INET6, d->name, &a6) == 1) {
		moat_strlcpy(d->found[0][0].ip, d->name,
		    sizeof(d->found[0][0].ip));
		moat_strlcpy(d->found[0][0].host, d->name,
		    sizeof(d->found[0][0].host));
		d->found[0][0].port = d->port;
		d->nfound[0] = 1;
		d->nmx = 1;
		dest_resolved(d);
		return;
	}
	if (d->ob->dns == NULL) {
		d->rstate = R_FAILED;
		snprintf(d->rerr.text, sizeof(d->rerr.text), "4.4.3 DNS is "
		    "not available");
		dest_resolved(d);
		return;
	}
	d->outstanding++;
	if (d->no_mx) {
		d->outstanding--;
		moat_strlcpy(d->mxhosts[0], d->name, sizeof(d->mxhosts[0]));
		d->nmx = 1;
		resolve_hosts(d);
		return;
	}
	dns_query_mx(d->ob->dns, d->name, on_mx, d);
}

static void
dest_kick(struct dest *d)
{
	switch (d->rstate) {
	case R_NEW:
		dest_resolve(d);
		return;
	case R_RESOLVING:
		return;
	case R_FAILED:
		dest_fail_all(d, &d->rerr);
		/* Resolve again for the next message. */
		d->rstate = R_NEW;
		memset(&d->rerr, 0, sizeof(d->rerr));
		memset(d->nfound, 0, sizeof(d->nfound));
		d->nmx = 0;
		return;
	case R_READY:
		dest_connect(d);
		return;
	}
}

/* ---- submission -------------------------------------------------------- */

static struct dest *
dest_get(struct outbound *ob, const char *domain)
{
	const struct transport_route *r = config_route(ob->cfg, domain);
	char key[OB_KEY_MAX];
	struct dest *d;

	if (r != NULL)
		snprintf(key, sizeof(key), "%s[%s]:%u", r->no_mx ? "" : "mx:",
		    r->host, (unsigned)r->port);
	else
		snprintf(key, sizeof(key), "mx:%s", domain);
	for (d = ob->dests; d != NULL; d = d->next)
		if (strcmp(d->key, key) == 0 && d->rstate != R_FAILED)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->ob = ob;
	moat_strlcpy(d->key, key, sizeof(d->key));
	d->route = r;
	moat_strlcpy(d->name, r ? r->host : domain, sizeof(d->name));
	d->port = r ? r->port : (uint16_t)ob->cfg->smtp_port;
	d->no_mx = r ? r->no_mx : false;
	d->tls = config_tls_policy(ob->cfg, domain);
	d->rerr.code = 0;
	d->next = ob->dests;
	ob->dests = d;
	return d;
}

void
outbound_submit(struct outbound *ob, struct outbound_job *job)
{
	struct delivery **dls = xcalloc(job->nrcpts, sizeof(*dls));
	struct dest **dests = xcalloc(job->nrcpts, sizeof(*dests));
	size_t i, j, ndl = 0;

	job->remaining = 0;
	for (i = 0; i < job->nrcpts; i++) {
		const char *at = strrchr(job->rcpts[i], '@');
		char domain[256];
		struct delivery *dl = NULL;
		struct dest *d;

		moat_strlcpy(domain, at ? at + 1 : "", sizeof(domain));
		ascii_lower(domain);
		d = dest_get(ob, domain);
		for (j = 0; j < ndl; j++)
			if (dests[j] == d)
				dl = dls[j];
		if (dl == NULL) {
			dl = xcalloc(1, sizeof(*dl));
			dl->job = job;
			dl->dest = d;
			dl->idx = xcalloc(job->nrcpts, sizeof(size_t));
			dl->rcpts = xcalloc(job->nrcpts, sizeof(char *));
			dl->results = xcalloc(job->nrcpts,
			    sizeof(*dl->results));
			dls[ndl] = dl;
			dests[ndl] = d;
			ndl++;
		}
		dl->idx[dl->n] = i;
		dl->rcpts[dl->n] = job->rcpts[i];
		dl->n++;
	}
	job->remaining = ndl;
	for (j = 0; j < ndl; j++) {
		struct delivery *dl = dls[j];
		struct dest *d = dests[j];

		dl->msg.from = job->from;
		dl->msg.rcpts = dl->rcpts;
		dl->msg.nrcpts = dl->n;
		dl->msg.data = job->data;
		dl->msg.len = job->len;
		dl->msg.eightbit = job->eightbit;
		dl->msg.smtputf8 = job->smtputf8;
		dl->msg.results = dl->results;
		if (d->tail != NULL)
			d->tail->next = dl;
		else
			d->head = dl;
		d->tail = dl;
		d->npending++;
	}
	for (j = 0; j < ndl; j++)
		dest_kick(dests[j]);
	free(dls);
	free(dests);
}

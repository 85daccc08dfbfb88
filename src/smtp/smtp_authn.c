/* smtp_authn: domain authentication of inbound mail in the SMTP session.
 * SPF for the MAIL FROM identity starts at MAIL and runs while the client
 * sends RCPT and DATA; DKIM is verified over the finished message; DMARC
 * then combines them with the From: domain's policy. The verdict: a
 * DMARC reject is refused with 550 5.7.1, quarantine goes to the
 * recipients' Junk folder, and an SPF fail is refused (550 5.7.23) only
 * where no DMARC policy applies ([authn] spf_fail_reject). The results
 * become a Received-SPF and an Authentication-Results header (RFC 7208 9,
 * RFC 8601), after any incoming Authentication-Results that claims our
 * authserv-id is removed. Mail from authenticated clients and trusted
 * networks is ours: it is not checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "arc.h"
#include "authres.h"
#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
#include "log.h"
#include "spf.h"
#include "util.h"
#include "xalloc.h"

#include "smtp_session_private.h"

#define AUTHN_HEADERS_MAX 8192	/* our added header block */

static bool
authn_applies(const struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;

	return s->srv->dns != NULL && s->service == SERVICE_SMTP &&
	    !s->authenticated &&
	    !cidr_match_any(cfg->trusted, cfg->ntrusted, s->base.conn->peer_ip);
}

static void
on_spf(const struct spf_report *r, void *ctx)
{
	struct smtp_session *s = ctx;

	s->spf = NULL;
	s->spf_result = (int)r->result;
	moat_strlcpy(s->spf_why, r->result == SPF_FAIL && r->explanation ?
	    r->explanation : r->problem ? r->problem : "",
	    sizeof(s->spf_why));
	log_info("smtp session=%s event=spf result=%s domain=%s", s->base.id,
	    spf_result_name(r->result), r->domain ? r->domain : "-");
	if (s->authn_waiting)
		smtp_authn_continue(s);
}

void
smtp_authn_mail(struct smtp_session *s)
{
	struct spf_request rq;
	const char *error = NULL;

	smtp_authn_reset(s);
	if (!authn_applies(s) || !s->srv->base.cfg->spf)
		return;
	memset(&rq, 0, sizeof(rq));
	rq.ip = s->base.conn->peer_ip;
	rq.helo = s->helo;
	rq.sender = s->from;
	rq.identity = SPF_ID_MAILFROM;
	rq.receiver = s->srv->base.cfg->hostname;
	rq.timeout_ms = s->srv->base.cfg->dns_timeout * 4;
	s->spf_result = -1;
	s->spf = spf_check_start(s->srv->base.loop, s->srv->dns, &rq, on_spf, s,
	    &error);
	if (s->spf == NULL) {
		s->spf_result = SPF_PERMERROR;
		moat_strlcpy(s->spf_why, error ? error : "bad request",
		    sizeof(s->spf_why));
	}
}

void
smtp_authn_reset(struct smtp_session *s)
{
	if (s->spf != NULL) {
		spf_check_cancel(s->spf);
		s->spf = NULL;
	}
	dkim_verify_free(&s->dkim);
	arc_verify_free(&s->arc);
	s->arc_pending = false;
	free(s->arc_result);
	s->arc_result = NULL;
	if (s->sid != NULL) {
		spf_check_cancel(s->sid);
		s->sid = NULL;
	}
	s->sid_result = -1;
	s->pra[0] = '\0';
	if (s->dmarc != NULL) {
		dmarc_check_cancel(s->dmarc);
		s->dmarc = NULL;
	}
	free(s->dmarc_result);
	s->dmarc_result = NULL;
	s->dmarc_started = false;
	s->spf_result = -1;
	s->spf_why[0] = '\0';
	s->authn_waiting = false;
}

static void
on_dmarc(const struct dmarc_result *r, void *ctx)
{
	struct smtp_session *s = ctx;

	s->dmarc = NULL;
	s->dmarc_result = xmemdup(r, sizeof(*r));
	log_info("smtp session=%s event=dmarc result=%s from=%s policy=%s "
	    "disposition=%s", s->base.id, dmarc_status_name(r->status),
	    r->from_domain, dmarc_policy_name(r->policy),
	    dmarc_disposition_name(r->disposition));
	if (s->authn_waiting)
		smtp_authn_continue(s);
}

/* DMARC once SPF and DKIM are known. Returns true when it is running. */
static bool
dmarc_start(struct smtp_session *s)
{
	struct dkim_result dk[DKIM_SIGS_MAX];
	struct dmarc_auth in;
	char from[DMARC_DOMAIN_MAX + 1];
	const char *error = NULL;
	size_t i, n = s->dkim ? dkim_verify_count(s->dkim) : 0;
	int r;

	s->dmarc_started = true;
	if (!s->srv->base.cfg->dmarc)
		return false;
	memset(&in, 0, sizeof(in));
	r = dmarc_from_domain(s->msg.data + s->received_len,
	    s->msg.len - s->received_len, from, sizeof(from), &error);
	in.from_domain = r == 0 ? from : NULL;
	in.from_error = r < 0 ? error : NULL;
	if (r == 1)
		return false;		/* no From domain: DMARC does not apply */
	in.spf = s->spf_result >= 0 ? (enum spf_result)s->spf_result :
	    SPF_NONE;
	in.spf_domain = dmarc_spf_domain(s->from, s->helo);
	for (i = 0; i < n && i < DKIM_SIGS_MAX; i++)
		dk[i] = *dkim_verify_result(s->dkim, i);
	in.dkim = dk;
	in.ndkim = i;
	in.pct_roll = -1;
	s->dmarc = dmarc_check_start(s->srv->base.loop, s->srv->dns, &in,
	    on_dmarc, s);
	return s->dmarc != NULL;
}

static void
on_arc(struct arc_verify *v, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)v;
	s->arc_pending = false;
	if (s->authn_waiting)
		smtp_authn_continue(s);
}

static void
on_sender_id(const struct spf_report *r, void *ctx)
{
	struct smtp_session *s = ctx;

	s->sid = NULL;
	s->sid_result = (int)r->result;
	if (s->authn_waiting)
		smtp_authn_continue(s);
}

/* Sender ID (RFC 4406): the PRA of the headers against spf2.0/pra (or
 * v=spf1). Historic: off by default, and its result is only recorded. */
static void
sender_id_start(struct smtp_session *s)
{
	struct spf_request rq;
	const char *error = NULL;

	if (spf_pra_extract((const char *)s->msg.data + s->received_len,
	    s->msg.len - s->received_len, s->pra, sizeof(s->pra),
	    &error) != 0) {
		s->pra[0] = '\0';
		s->sid_result = SPF_PERMERROR;
		return;
	}
	memset(&rq, 0, sizeof(rq));
	rq.ip = s->base.conn->peer_ip;
	rq.helo = s->helo;
	rq.sender = s->pra;
	rq.identity = SPF_ID_PRA;
	rq.flags = SPF_F_SENDER_ID;
	rq.receiver = s->srv->base.cfg->hostname;
	rq.timeout_ms = s->srv->base.cfg->dns_timeout * 4;
	s->sid = spf_check_start(s->srv->base.loop, s->srv->dns, &rq,
	    on_sender_id, s, &error);
	if (s->sid == NULL)
		s->sid_result = SPF_PERMERROR;
}

static void
on_dkim(struct dkim_verify *v, void *ctx)
{
	struct smtp_session *s = ctx;

	(void)v;
	s->dkim_pending = false;
	if (s->authn_waiting)
		smtp_authn_continue(s);
}

#define AUTHN_FORGED_MAX 32	/* forged fields removed per message */

/* Drop every Authentication-Results field that claims our authserv-id
 * (RFC 8601 5): only we may speak for our name. */
static void
strip_forged_ar(struct smtp_session *s)
{
	struct authres_range r[AUTHN_FORGED_MAX];
	size_t n, i;

	n = authres_forged(s->msg.data + s->received_len,
	    s->msg.len - s->received_len, s->srv->base.cfg->hostname, r,
	    AUTHN_FORGED_MAX);
	if (n > AUTHN_FORGED_MAX)
		n = AUTHN_FORGED_MAX;	/* the rest: the next pass */
	/* Last first, so earlier offsets stay right. */
	for (i = n; i-- > 0;) {
		size_t off = s->received_len + r[i].off;

		memmove(s->msg.data + off, s->msg.data + off + r[i].len,
		    s->msg.len - off - r[i].len);
		s->msg.len -= r[i].len;
	}
	if (n > 0)
		log_info("smtp session=%s event=forged-authentication-results "
		    "removed=%zu", s->base.id, n);
}

static void
add_headers(struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	struct dkim_result dk[DKIM_SIGS_MAX];
	struct authres_input in;
	struct buf h;
	size_t i, n = s->dkim ? dkim_verify_count(s->dkim) : 0;
	const char *spf = s->spf_result >= 0 ?
	    spf_result_name((enum spf_result)s->spf_result) : NULL;
	char esc[LOG_ESC_MAX];

	buf_init(&h, AUTHN_HEADERS_MAX);
	if (spf != NULL) {
		log_escape(esc, sizeof(esc), s->spf_why, strlen(s->spf_why));
		(void)buf_printf(&h, "Received-SPF: %s (%s: %s)\r\n"
		    "\tclient-ip=%s; envelope-from=<%s>; helo=%.255s;\r\n",
		    spf, cfg->hostname, esc[0] ? esc : "checked",
		    s->base.conn->peer_ip, s->from, s->helo);
	}
	memset(&in, 0, sizeof(in));
	in.authserv_id = cfg->hostname;
	in.spf_checked = spf != NULL;
	in.spf = spf != NULL ? (enum spf_result)s->spf_result : SPF_NONE;
	in.mail_from = s->from;
	in.helo = s->helo;
	for (i = 0; i < n && i < DKIM_SIGS_MAX; i++)
		dk[i] = *dkim_verify_result(s->dkim, i);
	in.dkim = dk;
	in.ndkim = i;
	in.dkim_checked = s->dkim != NULL;
	in.dmarc = s->dmarc_result;
	in.arc = s->arc_result;
	in.sender_id_checked = s->sid_result >= 0;
	in.sender_id = s->sid_result >= 0 ? (enum spf_result)s->sid_result :
	    SPF_NONE;
	in.pra = s->pra;
	if (authres_field(&in, &h) < 0)
		log_warnx("smtp session=%s event=authentication-results-"
		    "too-long", s->base.id);
	/* Right after our Received: header. */
	if (h.len > 0)
		(void)buf_insert(&s->msg, s->received_len, h.data, h.len);
	buf_deinit(&h);
}

/* Called by the message end; returns true when the caller may go on at
 * once, false when smtp_authn_continue() will be called later. */
bool
smtp_authn_data_end(struct smtp_session *s)
{
	if (!authn_applies(s))
		return true;
	if (s->srv->base.cfg->dkim_verify) {
		s->dkim = dkim_verify_new(NULL);
		/* Everything after our own Received: header is the message
		 * as the client sent it. */
		dkim_verify_feed(s->dkim, s->msg.data + s->received_len,
		    s->msg.len - s->received_len);
		dkim_verify_end(s->dkim);
		s->dkim_pending = dkim_verify_lookup(s->dkim, s->srv->dns,
		    on_dkim, s) == 1;
	}
	if (s->srv->base.cfg->arc) {
		s->arc = arc_verify_new();
		arc_verify_feed(s->arc, s->msg.data + s->received_len,
		    s->msg.len - s->received_len);
		arc_verify_end(s->arc);
		s->arc_pending = arc_verify_lookup(s->arc, s->srv->dns, on_arc,
		    s) == 1;
	}
	if (s->srv->base.cfg->sender_id)
		sender_id_start(s);
	if (!smtp_authn_ready(s)) {
		s->authn_waiting = true;
		return false;
	}
	return true;
}

/* The verdict once every result is in. Returns 0 to accept (headers
 * written), or -1 after a refusal reply. */
int
smtp_authn_finish(struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	const struct dmarc_result *d = s->dmarc_result;
	bool dmarc_applies = d != NULL && d->has_record;
	char esc[LOG_ESC_MAX];

	s->authn_waiting = false;
	if (!authn_applies(s))
		return 0;
	if (d != NULL && d->has_record) {
		struct dmarc_report_row row;
		const char *error = NULL;

		dmarc_report_row(d, s->base.conn->peer_ip, time(NULL), &row);
		if (dmarc_report_store(s->srv->store, &row, &error) < 0)
			log_warnx("smtp session=%s event=dmarc-report-failed "
			    "error=\"%s\"", s->base.id, error ? error : "");
	}
	if (d != NULL && d->status == DMARC_FAIL &&
	    !conf_list_has(cfg->dmarc_exempt, d->from_domain, false)) {
		if (d->disposition == DMARC_DISP_REJECT) {
			smtp_reply(s, 550, "5.7.1 Message rejected: DMARC "
			    "policy of %.200s", d->from_domain);
			return -1;
		}
		if (d->disposition == DMARC_DISP_QUARANTINE)
			s->quarantine = true;
	}
	if (!dmarc_applies && s->spf_result == SPF_FAIL &&
	    cfg->spf_fail_reject) {
		log_escape(esc, sizeof(esc), s->spf_why, strlen(s->spf_why));
		smtp_reply(s, 550, "5.7.23 SPF check failed: %.200s", esc);
		return -1;
	}
	strip_forged_ar(s);
	add_headers(s);
	dkim_verify_free(&s->dkim);
	return 0;
}

/* Every check has finished; starts DMARC once SPF and DKIM are in. */
bool
smtp_authn_ready(struct smtp_session *s)
{
	if (s->spf != NULL || s->dkim_pending || s->arc_pending ||
	    s->sid != NULL || s->dmarc != NULL)
		return false;
	if (s->arc != NULL && s->arc_result == NULL) {
		struct arc_result r;

		arc_verify_result(s->arc, &r);
		arc_verify_free(&s->arc);
		/* Recorded only for messages that carry ARC sets. */
		if (r.instance > 0 || r.status != ARC_NONE)
			s->arc_result = xmemdup(&r, sizeof(r));
	}
	if (!s->dmarc_started && authn_applies(s) && dmarc_start(s))
		return false;
	return true;
}

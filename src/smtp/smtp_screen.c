/* smtp_screen: where the SMTP session meets screening (screen.h): the
 * checks before the greeting (bans and IP rules at once; then, on the
 * plaintext listeners, the client's rDNS name for host rules and the DNS
 * blocklists, with the greeting held until they answer), HELO, sender
 * and recipient rules, and the events that feed dynamic screening. A
 * refusal names its rule in the rejected log; a shadow-mode rule only
 * logs what it would have refused. */
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "log.h"
#include "screen.h"
#include "util.h"
#include "smtp_session_private.h"

static void smtp_screen_next(struct smtp_session *s);

/* A shadow refusal: a rejected-log row marked shadow, nothing else. */
static void
log_shadow(struct smtp_session *s, int code, const struct screen_refusal *r)
{
	s->reject_shadow = true;
	s->reject_rule = r->rule;
	smtp_log_reject(s, code, r->text);
}

/* Refuse before the greeting: 554 for a static rule (RFC 5321 3.1: no
 * service here), 421 for a ban (it ends), both with the reference. */
static void
refuse_connection(struct smtp_session *s, const struct screen_refusal *r)
{
	bool ban = strncmp(r->rule, "ban", 3) == 0;

	if (s->service == SERVICE_SUBMISSIONS) {
		/* Implicit TLS: a plaintext reply would only be noise to
		 * the client's handshake; log and hang up. */
		s->reject_rule = r->rule;
		smtp_log_reject(s, ban ? 421 : 554, r->text);
		smtp_close(s);
		return;
	}
	smtp_refuse(s, r->rule, ban ? 421 : 554, "%s %s %s", ban ? "4.7.0" :
	    "5.7.1", s->srv->base.cfg->hostname, r->text);
	conn_flush(s->base.conn);
	smtp_close(s);
}

/* Results of the checks that may wait for DNS. Returns true when the
 * session was refused and closed. */
static bool
screen_verdict(struct smtp_session *s, enum screen_result res,
    const struct screen_refusal *r)
{
	if (res != SCREEN_REFUSE)
		return false;
	if (r->shadow) {
		log_shadow(s, 554, r);
		return false;
	}
	refuse_connection(s, r);
	return true;
}

static void
greet_now(struct smtp_session *s)
{
	s->screening = false;
	smtp_greet(s);
	conn_flush(s->base.conn);
	smtp_session_resume(s);
}

static void
dnsbl_answer(void *ctx, enum screen_result res,
    const struct screen_refusal *r)
{
	struct smtp_session *s = ctx;

	s->dnsbl_q = NULL;
	s->dnsbl_score = r->dnsbl_score;
	if (s->base.conn_gone) {
		smtp_screen_abort(s);
		smtp_free(s);
		return;
	}
	if (!screen_verdict(s, res, r))
		greet_now(s);
}

static void
rdns_forward(const struct dns_result *res, void *ctx)
{
	struct smtp_session *s = ctx;
	size_t i;
	bool confirmed = false;

	s->rdns_q = NULL;
	if (res->status == DNS_OK)
		for (i = 0; i < res->count; i++)
			if (strcmp(res->addr[i].str, s->base.conn ?
			    s->base.conn->peer_ip : "") == 0)
				confirmed = true;
	trace_add(&s->trace, "fcrdns", "%s -> %s", s->rdns, confirmed ?
	    "confirmed" : "not confirmed");
	if (!confirmed)
		s->rdns[0] = '\0';
	smtp_screen_next(s);
}

static void
rdns_answer(const struct dns_result *res, void *ctx)
{
	struct smtp_session *s = ctx;

	s->rdns_q = NULL;
	if (res->status == DNS_OK && res->count > 0 && res->names[0][0])
		moat_strlcpy(s->rdns, res->names[0], sizeof(s->rdns));
	/* Only a definite answer: a timeout says nothing about the client
	 * (the spam rules count a missing PTR name against it). */
	s->rdns_none = res->status == DNS_NXDOMAIN ||
	    res->status == DNS_NODATA;
	trace_add(&s->trace, "rdns", "%s -> %s",
	    s->base.conn ? s->base.conn->peer_ip : "-",
	    s->rdns[0] ? s->rdns : dns_status_name(res->status));
	if (s->rdns[0] != '\0' && s->srv->base.cfg->fcrdns &&
	    !s->base.conn_gone) {
		bool v6 = strchr(s->base.conn->peer_ip, ':') != NULL;

		s->rdns_q = v6 ? dns_query_aaaa(s->srv->dns, s->rdns,
		    rdns_forward, s) : dns_query_a(s->srv->dns, s->rdns,
		    rdns_forward, s);
		return;
	}
	smtp_screen_next(s);
}

/* After the rDNS name is known (or not): host rules, then DNSBL. */
static void
smtp_screen_next(struct smtp_session *s)
{
	struct screen_refusal r;

	if (s->base.conn_gone) {
		smtp_screen_abort(s);
		smtp_free(s);
		return;
	}
	memset(&r, 0, sizeof(r));
	if (s->rdns[0] != '\0' && !s->screen_allowed &&
	    screen_verdict(s, screen_host(s->srv->base.screen, s->service,
	    s->base.conn->peer_ip, s->rdns, &s->trace, &r), &r))
		return;
	if (!s->screen_allowed && !s->dnsbl_done) {
		s->dnsbl_done = true;
		s->dnsbl_q = screen_dnsbl_start(s->srv->base.screen, s->srv->dns,
		    s->base.conn->peer_ip, &s->trace, dnsbl_answer, s);
		if (s->dnsbl_q != NULL)
			return;
	}
	greet_now(s);
}

bool
smtp_screen_connect(struct smtp_session *s)
{
	struct screen *sc = s->srv->base.screen;
	struct screen_refusal r;
	enum screen_result res;

	if (sc == NULL)
		return true;
	memset(&r, 0, sizeof(r));
	res = screen_connect(sc, s->service, s->base.conn->peer_ip, &s->trace,
	    &r);
	if (res == SCREEN_ALLOWED)
		s->screen_allowed = true;
	if (screen_verdict(s, res, &r))
		return false;
	/* Implicit TLS greets after the handshake; only the checks that
	 * need no DNS apply there. */
	if (s->service == SERVICE_SUBMISSIONS || s->srv->dns == NULL)
		return true;
	if (!s->screen_allowed && screen_wants_rdns(sc)) {
		s->screening = true;
		s->rdns_q = dns_query_ptr(s->srv->dns, s->base.conn->peer_ip,
		    rdns_answer, s);
		return false;
	}
	s->screening = true;
	s->dnsbl_done = true;
	s->dnsbl_q = s->screen_allowed ? NULL : screen_dnsbl_start(sc,
	    s->srv->dns, s->base.conn->peer_ip, &s->trace, dnsbl_answer, s);
	if (s->dnsbl_q != NULL)
		return false;
	s->screening = false;
	return true;
}

void
smtp_screen_abort(struct smtp_session *s)
{
	if (s->rdns_q != NULL)
		dns_cancel(s->rdns_q);
	s->rdns_q = NULL;
	screen_dnsbl_cancel(s->dnsbl_q);
	s->dnsbl_q = NULL;
	s->screening = false;
}

bool
smtp_screen_event(struct smtp_session *s, enum config_dyn what)
{
	struct screen_refusal r;
	enum screen_result res;

	if (s->srv->base.screen == NULL || s->screen_allowed ||
	    s->base.conn == NULL)
		return false;
	memset(&r, 0, sizeof(r));
	res = screen_event(s->srv->base.screen, s->base.conn->peer_ip, what, 0,
	    &s->trace, &r);
	return screen_verdict(s, res, &r);
}

/* Static rules on HELO, MAIL and RCPT: 550 5.7.1 with the rule. */
static bool
rule_refusal(struct smtp_session *s, enum screen_result res,
    const struct screen_refusal *r, const char *what)
{
	if (res != SCREEN_REFUSE)
		return false;
	if (r->shadow) {
		log_shadow(s, 550, r);
		return false;
	}
	smtp_refuse(s, r->rule, 550, "5.7.1 %s: %s", what, r->text);
	return true;
}

bool
smtp_screen_helo(struct smtp_session *s)
{
	struct screen_refusal r;

	if (s->srv->base.screen == NULL || s->screen_allowed)
		return false;
	memset(&r, 0, sizeof(r));
	return rule_refusal(s, screen_helo(s->srv->base.screen, s->service,
	    s->helo, &s->trace, &r), &r, "HELO");
}

bool
smtp_screen_sender(struct smtp_session *s)
{
	struct screen_refusal r;

	if (s->srv->base.screen == NULL)
		return false;
	memset(&r, 0, sizeof(r));
	return rule_refusal(s, screen_sender(s->srv->base.screen, s->service,
	    s->from, &s->trace, &r), &r, "sender");
}

bool
smtp_screen_rcpt(struct smtp_session *s, const char *rcpt,
    const char *local_domain)
{
	struct screen_refusal r;

	if (s->srv->base.screen == NULL)
		return false;
	memset(&r, 0, sizeof(r));
	{
		struct screen_client cl = {
			.ip = s->base.conn->peer_ip,
			.rdns = s->rdns,
			.helo = s->helo,
			.sender = s->from,
		};

		return rule_refusal(s, screen_rcpt(s->srv->base.screen,
		    s->service, &cl, rcpt, local_domain, &s->trace, &r), &r,
		    "recipient");
	}
}

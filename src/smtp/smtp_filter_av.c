/* smtp_filter_av: the antivirus stage. The message goes to clamd
 * (INSTREAM, asynchronously, within [antivirus] timeout): a virus is
 * refused with 554 5.7.0 naming the signature, or, when [antivirus]
 * action_inbound / action_outbound says quarantine for the message's
 * direction, accepted, marked and held (the queue runner moves it into
 * the quarantine instead of delivering it); when clamd cannot answer,
 * [antivirus] fail_open decides between 451 4.7.0 (the default) and
 * accepting with an X-Virus-Scan header saying it was not scanned. */
#include <stdio.h>
#include <string.h>

#include "clamd.h"
#include "log.h"
#include "smtp_session_private.h"

static void
scanned(const struct clamd_result *r, void *ctx)
{
	struct smtp_session *s = ctx;
	const struct config *cfg = s->srv->base.cfg;
	/* A header line: text, a signature or reason, our host name. */
	char line[CLAMD_REASON_MAX + CLAMD_SIGNATURE_MAX + 320];
	char rule[CLAMD_SIGNATURE_MAX + 16];

	s->clamd_q = NULL;
	if (s->base.conn_gone) {
		smtp_tx_reset(s);
		smtp_free(s);
		return;
	}
	switch (r->status) {
	case CLAMD_INFECTED:
		log_info("smtp session=%s event=virus signature=\"%s\"",
		    s->base.id, r->signature);
		trace_add(&s->trace, "antivirus", "infected: %s",
		    r->signature);
		snprintf(s->virus, sizeof(s->virus), "%s", r->signature);
		if (smtp_filter_inbound(s) ? cfg->av_quarantine_in :
		    cfg->av_quarantine_out) {
			/* 250 to the client, no bounce later: it waits for
			 * the admin in the quarantine. */
			snprintf(s->hold_reason, sizeof(s->hold_reason),
			    "virus %s", r->signature);
			snprintf(line, sizeof(line), "X-Virus-Scan: infected "
			    "(%s) by %s\r\n", r->signature, cfg->hostname);
			smtp_filter_insert_header(s, line);
			log_info("smtp session=%s event=virus-quarantine "
			    "signature=\"%s\"", s->base.id, r->signature);
			break;
		}
		snprintf(rule, sizeof(rule), "virus %s", r->signature);
		smtp_refuse(s, rule, 554, "5.7.0 Message refused: virus "
		    "found (%s)", r->signature);
		smtp_filter_refused(s);
		return;
	case CLAMD_ERROR:
		log_warnx("smtp session=%s event=virus-scan-failed error=%s "
		    "reason=\"%s\" fail_open=%s", s->base.id,
		    clamd_error_name(r->error), r->reason,
		    cfg->av_fail_open ? "yes" : "no");
		trace_add(&s->trace, "antivirus", "scan failed: %s",
		    r->reason);
		if (!cfg->av_fail_open) {
			smtp_refuse(s, "antivirus unavailable", 451, "4.7.0 "
			    "Virus scanner unavailable, try again later");
			smtp_filter_refused(s);
			return;
		}
		snprintf(line, sizeof(line), "X-Virus-Scan: not scanned "
		    "(%s) by %s\r\n", clamd_error_name(r->error),
		    cfg->hostname);
		smtp_filter_insert_header(s, line);
		break;
	case CLAMD_CLEAN:
		trace_add(&s->trace, "antivirus", "clean");
		snprintf(line, sizeof(line), "X-Virus-Scan: clean (clamd) "
		    "by %s\r\n", cfg->hostname);
		smtp_filter_insert_header(s, line);
		break;
	}
	smtp_filter_next(s);
}

void
smtp_filter_av(struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	struct clamd_limits lim;
	struct clamd_addr addr;
	const char *error;

	if (cfg->clamd[0] == '\0' ||
	    clamd_addr_parse(cfg->clamd, &addr, &error) < 0) {
		/* (moatd --check refuses a bad address.) */
		smtp_filter_next(s);
		return;
	}
	clamd_limits_default(&lim);
	lim.timeout_ms = cfg->av_timeout;
	lim.stream_max = cfg->av_max_size;
	/* Everything after our Received: header, as the client sent it. */
	s->clamd_q = clamd_scan(s->srv->base.loop, &addr, s->msg.data +
	    s->received_len, s->msg.len - s->received_len, &lim, scanned, s);
}

void
smtp_filter_av_abort(struct smtp_session *s)
{
	clamd_cancel(s->clamd_q);
	s->clamd_q = NULL;
}

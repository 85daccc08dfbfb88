/* smtp_filter: the content checks at the end of DATA, before the queue:
 * the message goes to clamd (INSTREAM, asynchronously, within [antivirus]
 * timeout) and a virus is refused with 554 5.7.0 naming the signature,
 * so that bad mail is refused rather than bounced. When clamd cannot
 * answer, [antivirus] fail_open decides: 451 4.7.0 (the default), or
 * accept with an X-Virus-Scan header saying it was not scanned. */
#include <stdio.h>
#include <string.h>

#include "clamd.h"
#include "log.h"
#include "smtp_session_private.h"

/* Insert a header line (with CRLF) right after our Received: header. */
static void
insert_header(struct smtp_session *s, const char *line)
{
	size_t n = strlen(line);

	if (buf_append(&s->msg, line, n) < 0)
		return;
	memmove(s->msg.data + s->received_len + n,
	    s->msg.data + s->received_len, s->msg.len - n - s->received_len);
	memcpy(s->msg.data + s->received_len, line, n);
}

/* After a refusal: the transaction is over, the session goes on. */
static void
refused(struct smtp_session *s)
{
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_STATE_READY);
	smtp_session_resume(s);
}

static void
scanned(const struct clamd_result *r, void *ctx)
{
	struct smtp_session *s = ctx;
	const struct config *cfg = s->srv->cfg;
	char line[CLAMD_REASON_MAX + 128], rule[CLAMD_SIGNATURE_MAX + 16];

	s->clamd_q = NULL;
	if (s->conn_gone) {
		smtp_tx_reset(s);
		smtp_free(s);
		return;
	}
	switch (r->status) {
	case CLAMD_INFECTED:
		log_info("smtp session=%s event=virus signature=\"%s\"", s->id,
		    r->signature);
		trace_add(&s->trace, "antivirus", "infected: %s",
		    r->signature);
		snprintf(rule, sizeof(rule), "virus %s", r->signature);
		smtp_refuse(s, rule, 554, "5.7.0 Message refused: virus "
		    "found (%s)", r->signature);
		refused(s);
		return;
	case CLAMD_ERROR:
		log_warnx("smtp session=%s event=virus-scan-failed error=%s "
		    "reason=\"%s\" fail_open=%s", s->id,
		    clamd_error_name(r->error), r->reason,
		    cfg->av_fail_open ? "yes" : "no");
		trace_add(&s->trace, "antivirus", "scan failed: %s",
		    r->reason);
		if (!cfg->av_fail_open) {
			smtp_refuse(s, "antivirus unavailable", 451, "4.7.0 "
			    "Virus scanner unavailable, try again later");
			refused(s);
			return;
		}
		snprintf(line, sizeof(line), "X-Virus-Scan: not scanned "
		    "(%s) by %s\r\n", clamd_error_name(r->error),
		    cfg->hostname);
		insert_header(s, line);
		break;
	case CLAMD_CLEAN:
		trace_add(&s->trace, "antivirus", "clean");
		snprintf(line, sizeof(line), "X-Virus-Scan: clean (clamd) "
		    "by %s\r\n", cfg->hostname);
		insert_header(s, line);
		break;
	}
	smtp_message_queue(s);
}

bool
smtp_filter_start(struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	struct clamd_limits lim;
	struct clamd_addr addr;
	const char *error;

	if (cfg->clamd[0] == '\0')
		return true;
	if (clamd_addr_parse(cfg->clamd, &addr, &error) < 0) {
		/* moatd --check refuses such a config; be safe anyway. */
		log_warnx("smtp session=%s event=virus-scan-failed "
		    "reason=\"[antivirus] clamd: %s\"", s->id, error);
		return true;
	}
	clamd_limits_default(&lim);
	lim.timeout_ms = cfg->av_timeout;
	lim.stream_max = cfg->av_max_size;
	/* Everything after our Received: header, as the client sent it. */
	s->clamd_q = clamd_scan(s->srv->loop, &addr, s->msg.data +
	    s->received_len, s->msg.len - s->received_len, &lim, scanned, s);
	return false;
}

void
smtp_filter_abort(struct smtp_session *s)
{
	clamd_cancel(s->clamd_q);
	s->clamd_q = NULL;
}

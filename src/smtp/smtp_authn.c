/* smtp_authn: domain authentication of inbound mail in the SMTP session.
 * SPF for the MAIL FROM identity starts at MAIL and runs while the client
 * sends RCPT and DATA; DKIM is verified over the finished message; then
 * the results become a Received-SPF and an Authentication-Results header
 * (RFC 7208 9, RFC 8601), after any incoming Authentication-Results that
 * claims our authserv-id is removed. Mail from authenticated clients and
 * trusted networks is ours: it is not checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "dkim.h"
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
	const struct config *cfg = s->srv->cfg;

	return s->srv->dns != NULL && s->service == SERVICE_SMTP &&
	    !s->authenticated &&
	    !cidr_match_any(cfg->trusted, cfg->ntrusted, s->conn->peer_ip);
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
	log_info("smtp session=%s event=spf result=%s domain=%s", s->id,
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
	if (!authn_applies(s) || !s->srv->cfg->spf)
		return;
	memset(&rq, 0, sizeof(rq));
	rq.ip = s->conn->peer_ip;
	rq.helo = s->helo;
	rq.sender = s->from;
	rq.identity = SPF_ID_MAILFROM;
	rq.receiver = s->srv->cfg->hostname;
	rq.timeout_ms = s->srv->cfg->dns_timeout * 4;
	s->spf_result = -1;
	s->spf = spf_check_start(s->srv->loop, s->srv->dns, &rq, on_spf, s,
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
	s->spf_result = -1;
	s->spf_why[0] = '\0';
	s->authn_waiting = false;
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

/* Drop every Authentication-Results field that claims our authserv-id
 * (RFC 8601 5): only we may speak for our name. Works on the header
 * section of s->msg after our own Received: header. */
static void
strip_forged_ar(struct smtp_session *s)
{
	const char *host = s->srv->cfg->hostname;
	size_t hlen = strlen(host), pos = s->received_len, end;
	uint8_t *d = s->msg.data;

	while (pos < s->msg.len) {
		const uint8_t *nl;
		size_t fend;

		if (d[pos] == '\r' || d[pos] == '\n')
			break;		/* end of the header section */
		/* The field runs to the CRLF not followed by WSP. */
		fend = pos;
		for (;;) {
			nl = memchr(d + fend, '\n', s->msg.len - fend);
			if (nl == NULL) {
				fend = s->msg.len;
				break;
			}
			fend = (size_t)(nl - d) + 1;
			if (fend >= s->msg.len || (d[fend] != ' ' &&
			    d[fend] != '\t'))
				break;
		}
		end = fend;
		if (end - pos > 23 && ascii_nieq((const char *)d + pos,
		    "Authentication-Results:", 23)) {
			size_t v = pos + 23;

			while (v < end && (d[v] == ' ' || d[v] == '\t' ||
			    d[v] == '\r' || d[v] == '\n'))
				v++;
			if (end - v >= hlen && ascii_nieq((const char *)d + v,
			    host, hlen) && (v + hlen == end ||
			    d[v + hlen] == ';' || d[v + hlen] == ' ' ||
			    d[v + hlen] == '\t' || d[v + hlen] == '\r')) {
				log_info("smtp session=%s event=forged-"
				    "authentication-results removed", s->id);
				memmove(d + pos, d + end, s->msg.len - end);
				s->msg.len -= end - pos;
				continue;
			}
		}
		pos = end;
	}
}

static void
add_headers(struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	struct buf h;
	size_t i, n;
	const char *spf = s->spf_result >= 0 ?
	    spf_result_name((enum spf_result)s->spf_result) : NULL;

	buf_init(&h, AUTHN_HEADERS_MAX);
	if (spf != NULL)
		(void)buf_printf(&h, "Received-SPF: %s (%s: %s)\r\n"
		    "\tclient-ip=%s; envelope-from=<%s>; helo=%.255s;\r\n",
		    spf, cfg->hostname, s->spf_why[0] ? s->spf_why :
		    "checked", s->conn->peer_ip, s->from, s->helo);
	(void)buf_printf(&h, "Authentication-Results: %s", cfg->hostname);
	if (spf != NULL)
		(void)buf_printf(&h, ";\r\n\tspf=%s smtp.mailfrom=%s", spf,
		    s->from[0] ? s->from : s->helo);
	n = s->dkim ? dkim_verify_count(s->dkim) : 0;
	for (i = 0; i < n; i++) {
		char ar[DKIM_AR_MAX];

		if (dkim_ar_format(dkim_verify_result(s->dkim, i), ar,
		    sizeof(ar)) == 0)
			(void)buf_printf(&h, ";\r\n\t%s", ar);
	}
	if (s->dkim != NULL && n == 0)
		(void)buf_printf(&h, ";\r\n\tdkim=none");
	if (spf == NULL && s->dkim == NULL)
		(void)buf_printf(&h, "; none");
	(void)buf_printf(&h, "\r\n");
	/* Insert right after our Received: header. A header block that did
	 * not fit its bound is dropped rather than cut. */
	if (h.len > 0 && h.len < AUTHN_HEADERS_MAX &&
	    buf_append(&s->msg, h.data, h.len) == 0) {
		memmove(s->msg.data + s->received_len + h.len,
		    s->msg.data + s->received_len,
		    s->msg.len - h.len - s->received_len);
		memcpy(s->msg.data + s->received_len, h.data, h.len);
	}
	buf_deinit(&h);
}

/* Called by the message end; returns true when the caller may go on at
 * once, false when smtp_authn_continue() will be called later. */
bool
smtp_authn_data_end(struct smtp_session *s)
{
	if (!authn_applies(s))
		return true;
	if (s->srv->cfg->dkim_verify) {
		s->dkim = dkim_verify_new(NULL);
		/* Everything after our own Received: header is the message
		 * as the client sent it. */
		dkim_verify_feed(s->dkim, s->msg.data + s->received_len,
		    s->msg.len - s->received_len);
		dkim_verify_end(s->dkim);
		s->dkim_pending = dkim_verify_lookup(s->dkim, s->srv->dns,
		    on_dkim, s) == 1;
	}
	if (s->spf != NULL || s->dkim_pending) {
		s->authn_waiting = true;
		return false;
	}
	smtp_authn_finish(s);
	return true;
}

/* Both results are in: write them into the message. */
void
smtp_authn_finish(struct smtp_session *s)
{
	s->authn_waiting = false;
	strip_forged_ar(s);
	add_headers(s);
	dkim_verify_free(&s->dkim);
}

bool
smtp_authn_ready(const struct smtp_session *s)
{
	return s->spf == NULL && !s->dkim_pending;
}

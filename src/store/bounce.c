/* bounce: builds and queues RFC 3464 delivery status notifications. */
#include "bounce.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "util.h"

void
bounce_status_from_text(const char *text, bool perm, char dst[16])
{
	const char *p = text;
	int a, b, c, n = 0;

	/* Skip a leading reply code. */
	if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9' && p[3] == ' ')
		p += 4;
	if (sscanf(p, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && n > 0 &&
	    (p[n] == ' ' || p[n] == '\0') && (a == 2 || a == 4 || a == 5)) {
		snprintf(dst, 16, "%d.%d.%d", a, b, c);
		return;
	}
	snprintf(dst, 16, "%s", perm ? "5.0.0" : "4.0.0");
}

static void
rfc5322_now(char *dst, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(dst, len, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		dst[0] = '\0';
}

/* Length of the header section of msg (up to and including the blank
 * line), capped. */
static size_t
header_len(const uint8_t *msg, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++)
		if (memcmp(msg + i, "\r\n\r\n", 4) == 0)
			return i + 2;
	return len;
}

static int
build(struct buf *b, const char *hostname, const struct queue_envelope *env,
    const uint8_t *msg, size_t msglen, const struct bounce_rcpt *rcpts,
    size_t n, bool delayed, const char *qid)
{
	char date[64], arrival[64], boundary[64];
	struct tm tm;
	uint64_t rnd;
	size_t i, hl;
	int r = 0;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)time(NULL);
	snprintf(boundary, sizeof(boundary), "%s/%016llx", qid,
	    (unsigned long long)rnd);
	rfc5322_now(date, sizeof(date));
	localtime_r(&env->time, &tm);
	if (strftime(arrival, sizeof(arrival), "%a, %d %b %Y %H:%M:%S %z",
	    &tm) == 0)
		arrival[0] = '\0';

	r |= buf_printf(b, "Received: by %s (moat) id %s; %s\r\n", hostname,
	    qid, date);
	r |= buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s.dsn@%s>\r\nAuto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n",
	    hostname, env->from, delayed ? "Delayed Mail (still being "
	    "retried)" : "Undelivered Mail Returned to Sender", date, qid,
	    hostname, boundary);
	r |= buf_printf(b, "This is a MIME-encapsulated message.\r\n\r\n"
	    "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
	    boundary);
	if (delayed)
		r |= buf_printf(b, "This is the mail system at %s.\r\n\r\n"
		    "Your message could not be delivered yet to the "
		    "recipients below.\r\nIt is still in the queue and will "
		    "be retried; you do not need to send it\r\nagain.\r\n\r\n",
		    hostname);
	else
		r |= buf_printf(b, "This is the mail system at %s.\r\n\r\n"
		    "Your message could not be delivered to the recipients "
		    "below. This is a\r\npermanent error; it was not "
		    "delivered to them.\r\n\r\n", hostname);
	for (i = 0; i < n; i++)
		r |= buf_printf(b, "<%s>: %s\r\n", rcpts[i].rcpt,
		    rcpts[i].diag);
	r |= buf_printf(b, "\r\n--%s\r\nContent-Type: message/delivery-status"
	    "\r\n\r\nReporting-MTA: dns; %s\r\nX-Moat-Queue-ID: %s\r\n"
	    "Arrival-Date: %s\r\n", boundary, hostname, env->id, arrival);
	for (i = 0; i < n; i++) {
		r |= buf_printf(b, "\r\nFinal-Recipient: rfc822; %s\r\n"
		    "Action: %s\r\nStatus: %s\r\n", rcpts[i].rcpt,
		    delayed ? "delayed" : "failed", rcpts[i].status);
		if (rcpts[i].remote_mta != NULL && rcpts[i].remote_mta[0])
			r |= buf_printf(b, "Remote-MTA: dns; %s\r\n",
			    rcpts[i].remote_mta);
		r |= buf_printf(b, "Diagnostic-Code: smtp; %s\r\n",
		    rcpts[i].diag);
	}
	/* The original headers only (RFC 3462 text/rfc822-headers): the
	 * body may be large, and returning it helps spammers. */
	hl = header_len(msg, msglen);
	if (hl > BOUNCE_HEADERS_MAX)
		hl = BOUNCE_HEADERS_MAX;
	r |= buf_printf(b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n"
	    "\r\n", boundary);
	r |= buf_append(b, msg, hl);
	if (hl < 2 || memcmp(msg + hl - 2, "\r\n", 2) != 0)
		r |= buf_append(b, "\r\n", 2);
	r |= buf_printf(b, "\r\n--%s--\r\n", boundary);
	return r ? -1 : 0;
}

int
bounce_enqueue(const char *data_dir, const char *hostname,
    const struct queue_envelope *env, const uint8_t *msg, size_t msglen,
    const struct bounce_rcpt *rcpts, size_t n, bool delayed,
    char qid_r[QUEUE_ID_LEN + 1])
{
	struct queue_envelope dsn;
	struct buf eb, mb;
	char *to[1];
	int r = -1, saved = 0;

	if (env->from == NULL || env->from[0] == '\0' || n == 0)
		return 1;	/* never bounce a bounce */
	memset(&dsn, 0, sizeof(dsn));
	queue_id_new(dsn.id);
	dsn.time = time(NULL);
	dsn.from = "";
	to[0] = env->from;
	dsn.rcpts = to;
	dsn.nrcpts = 1;
	dsn.client_ip = "127.0.0.1";
	dsn.helo = (char *)hostname;
	dsn.service = "dsn";
	dsn.session = (char *)env->id;	/* the message it reports on */
	buf_init(&eb, QUEUE_ENVELOPE_MAX);
	buf_init(&mb, 0);
	if (queue_envelope_format(&dsn, &eb) < 0 ||
	    build(&mb, hostname, env, msg, msglen, rcpts, n, delayed,
	    dsn.id) < 0) {
		saved = EINVAL;
		goto out;
	}
	if (queue_write_durable(data_dir, dsn.id, &eb, &mb) < 0) {
		saved = errno;
		goto out;
	}
	memcpy(qid_r, dsn.id, QUEUE_ID_LEN + 1);
	r = 0;
out:
	buf_deinit(&eb);
	buf_deinit(&mb);
	if (r < 0)
		errno = saved;
	return r;
}

/* pop3_cmd: the TRANSACTION state (RFC 1939 5): STAT, LIST, UIDL, RETR,
 * TOP, DELE, RSET, and the UPDATE state entered by QUIT.
 *
 * Message numbers are positions in the list read at login (UID order);
 * UIDL is "<UIDVALIDITY>.<UID>" from the mailbox index, so it is stable
 * across sessions and names the same message as IMAP's UID. RETR and TOP
 * stream the file in POP3_SEND_CHUNK pieces, one piece per drained
 * write, converting bare LF to CRLF and dot-stuffing (RFC 1939 3), so a
 * large message never sits in memory whole. DELE only marks; QUIT
 * expunges the marked messages through the index in the thread pool, so
 * IMAP sees them gone too.
 *
 * SECURITY: message numbers are client input: parsed strictly and
 * checked against the list. The files are read with O_NOFOLLOW from the
 * account's own Maildir only. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mailbox.h"
#include "xalloc.h"

#include "pop3_session_private.h"

struct update_job {
	uv_work_t		 work;
	struct pop3_session	*s;
	uint32_t		*uids;
	size_t			 n;
	int			 removed;
	bool			 failed;
};

/* Parse "msg" (required or optional) and check it names a message that
 * is not deleted. Replies and counts the error itself. Returns the
 * 0-based index, -1 when args were empty and optional, -2 on error. */
static long
msg_arg(struct pop3_session *s, const char *args, size_t len, bool optional,
    uint32_t *second_r)
{
	uint32_t v[POP3_ARGS_MAX];
	int want = second_r != NULL ? 2 : 1;
	int n;

	if (len == 0 && optional)
		return -1;
	n = pop3_parse_numbers(args, len, want, want, v);
	if (n < 0) {
		pop3_reply(s, false, "Syntax: %s msg%s", pop3_cmd_name(
		    s->cur_cmd), second_r != NULL ? " n" : "");
		pop3_count_error(s);
		return -2;
	}
	if (v[0] == 0 || v[0] > s->nmsgs) {
		pop3_reply(s, false, "No such message");
		pop3_count_error(s);
		return -2;
	}
	if (s->deleted[v[0] - 1]) {
		pop3_reply(s, false, "Message %u already deleted",
		    (unsigned)v[0]);
		pop3_count_error(s);
		return -2;
	}
	if (second_r != NULL)
		*second_r = v[1];
	return (long)v[0] - 1;
}

void
pop3_cmd_stat(struct pop3_session *s, const char *args, size_t len)
{
	(void)args;
	if (len != 0) {
		pop3_reply(s, false, "Syntax: STAT");
		pop3_count_error(s);
		return;
	}
	pop3_reply(s, true, "%zu %" PRIu64, s->nmsgs - s->ndeleted,
	    s->total_size);
}

void
pop3_cmd_list(struct pop3_session *s, const char *args, size_t len)
{
	long i = msg_arg(s, args, len, true, NULL);
	size_t k;

	if (i == -2)
		return;
	if (i >= 0) {
		pop3_reply(s, true, "%ld %" PRIu64, i + 1,
		    s->msgs[i].size);
		return;
	}
	pop3_reply(s, true, "%zu messages (%" PRIu64 " octets)",
	    s->nmsgs - s->ndeleted, s->total_size);
	for (k = 0; k < s->nmsgs; k++)
		if (!s->deleted[k])
			conn_printf(s->base.conn, "%zu %" PRIu64 "\r\n", k + 1,
			    s->msgs[k].size);
	conn_printf(s->base.conn, ".\r\n");
}

void
pop3_cmd_uidl(struct pop3_session *s, const char *args, size_t len)
{
	long i = msg_arg(s, args, len, true, NULL);
	size_t k;

	if (i == -2)
		return;
	/* unique-id: 1*70 of 0x21..0x7E (RFC 1939 7). */
	if (i >= 0) {
		pop3_reply(s, true, "%ld %" PRIu32 ".%" PRIu32, i + 1,
		    s->uidvalidity, s->msgs[i].uid);
		return;
	}
	pop3_reply(s, true, "Unique-ID listing follows");
	for (k = 0; k < s->nmsgs; k++)
		if (!s->deleted[k])
			conn_printf(s->base.conn, "%zu %" PRIu32 ".%" PRIu32
			    "\r\n", k + 1, s->uidvalidity, s->msgs[k].uid);
	conn_printf(s->base.conn, ".\r\n");
}

void
pop3_cmd_dele(struct pop3_session *s, const char *args, size_t len)
{
	long i = msg_arg(s, args, len, false, NULL);

	if (i < 0)
		return;
	s->deleted[i] = true;
	s->ndeleted++;
	s->total_size -= s->msgs[i].size;
	pop3_reply(s, true, "Message %ld deleted", i + 1);
}

void
pop3_cmd_rset(struct pop3_session *s, const char *args, size_t len)
{
	size_t k;

	(void)args;
	if (len != 0) {
		pop3_reply(s, false, "Syntax: RSET");
		pop3_count_error(s);
		return;
	}
	s->total_size = 0;
	for (k = 0; k < s->nmsgs; k++) {
		s->deleted[k] = false;
		s->total_size += s->msgs[k].size;
	}
	s->ndeleted = 0;
	pop3_reply(s, true, "%zu messages (%" PRIu64 " octets)", s->nmsgs,
	    s->total_size);
}

/* ---- RETR and TOP: streaming ------------------------------------------- */

static void
send_start(struct pop3_session *s, long i, bool top, uint32_t lines)
{
	int fd = mailbox_msg_open(s->mb, &s->msgs[i]);

	if (fd < 0) {
		log_warn("pop3 session=%s event=message-open-failed uid=%"
		    PRIu32, s->base.id, s->msgs[i].uid);
		pop3_reply(s, false, "[SYS/TEMP] Message %ld is no longer "
		    "available", i + 1);
		return;
	}
	s->send_fd = fd;
	s->send_top = top;
	s->top_lines = lines;
	s->body_lines = 0;
	s->in_body = false;
	s->line_start = true;
	s->prev_cr = false;
	s->line_len = 0;
	if (top)
		pop3_reply(s, true, "Top of message %ld follows", i + 1);
	else
		pop3_reply(s, true, "%" PRIu64 " octets", s->msgs[i].size);
	/* Commands pipelined behind wait until the message is sent. */
	conn_pause(s->base.conn);
	pop3_enter_state(s, POP3_STATE_SENDING);
	pop3_send_more(s);
}

void
pop3_cmd_retr(struct pop3_session *s, const char *args, size_t len)
{
	long i = msg_arg(s, args, len, false, NULL);

	if (i < 0)
		return;
	send_start(s, i, false, 0);
}

void
pop3_cmd_top(struct pop3_session *s, const char *args, size_t len)
{
	uint32_t lines = 0;
	long i = msg_arg(s, args, len, false, &lines);

	if (i < 0)
		return;
	send_start(s, i, true, lines);
}

static void
send_finish(struct pop3_session *s)
{
	if (s->send_fd >= 0) {
		close(s->send_fd);
		s->send_fd = -1;
	}
	pop3_enter_state(s, POP3_STATE_TRANSACTION);
	pop3_session_resume(s);
}

/* Convert one chunk: bare LF -> CRLF, a leading '.' doubled, TOP's line
 * budget. Returns octets written to out (room: 2 * n + 2); *stop_r when
 * TOP has sent enough. */
static size_t
convert(struct pop3_session *s, const uint8_t *in, size_t n, uint8_t *out,
    bool *stop_r)
{
	size_t i, o = 0;

	*stop_r = false;
	for (i = 0; i < n; i++) {
		uint8_t b = in[i];

		if (s->line_start) {
			if (s->send_top && s->in_body &&
			    s->body_lines >= s->top_lines) {
				*stop_r = true;
				return o;
			}
			if (b == '.')
				out[o++] = '.';
			s->line_start = false;
		}
		if (b == '\n') {
			if (!s->prev_cr)
				out[o++] = '\r';
			out[o++] = '\n';
			if (!s->in_body && s->line_len == 0)
				s->in_body = true;	/* the blank line */
			else if (s->in_body)
				s->body_lines++;
			s->line_start = true;
			s->line_len = 0;
		} else {
			out[o++] = b;
			if (b != '\r')
				s->line_len++;
		}
		s->prev_cr = b == '\r';
	}
	return o;
}

void
pop3_send_more(struct pop3_session *s)
{
	static uint8_t in[POP3_SEND_CHUNK];
	static uint8_t out[2 * POP3_SEND_CHUNK + 2];

	if (s->base.conn_gone || s->state != POP3_STATE_SENDING)
		return;
	/* Each round sends one chunk; the next waits for on_drained, so at
	 * most one chunk per session is buffered. A round that produces
	 * nothing (TOP done, empty file) goes straight on. */
	for (;;) {
		ssize_t r = read(s->send_fd, in, sizeof(in));
		bool stop = false;
		size_t o = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_warn("pop3 session=%s event=message-read-failed",
			    s->base.id);
			/* The client already has "+OK": all we can do is
			 * hang up, so it does not take a cut message. */
			pop3_close(s);
			return;
		}
		if (r > 0)
			o = convert(s, in, (size_t)r, out, &stop);
		if (r == 0 || stop) {
			if (!s->line_start)
				out[o++] = '\r', out[o++] = '\n';
			conn_write(s->base.conn, out, o);
			conn_printf(s->base.conn, ".\r\n");
			conn_flush(s->base.conn);
			send_finish(s);
			return;
		}
		if (o == 0)
			continue;
		conn_write(s->base.conn, out, o);
		conn_flush(s->base.conn);
		return;
	}
}

/* ---- UPDATE ------------------------------------------------------------ */

static void
update_work(uv_work_t *w)
{
	struct update_job *j = w->data;
	const char *error = NULL;

	j->removed = mailbox_expunge(j->s->mb, j->uids, j->n, &error);
	j->failed = j->removed < 0;
}

static void
update_done(uv_work_t *w, int status)
{
	struct update_job *j = w->data;
	struct pop3_session *s = j->s;

	s->busy = false;
	if (status < 0)
		j->failed = true;
	/* Expunged or not, the session ends and the lock goes. */
	pop3_maildrop_release(s);
	if (s->base.conn_gone) {
		free(j->uids);
		free(j);
		pop3_free(s);
		return;
	}
	if (j->failed) {
		log_warnx("pop3 session=%s event=expunge-failed", s->base.id);
		pop3_reply(s, false, "[SYS/TEMP] Some deleted messages were "
		    "not removed");
	} else {
		log_info("pop3 session=%s event=update expunged=%d", s->base.id,
		    j->removed);
		pop3_reply(s, true, "Bye, %d message%s deleted", j->removed,
		    j->removed == 1 ? "" : "s");
	}
	free(j->uids);
	free(j);
	pop3_close(s);	/* flushes the reply first */
}

void
pop3_update(struct pop3_session *s)
{
	struct update_job *j;
	size_t k;

	if (s->ndeleted == 0) {
		pop3_maildrop_release(s);
		pop3_reply(s, true, "Bye");
		pop3_close(s);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->work.data = j;
	j->uids = xreallocarray(NULL, s->ndeleted, sizeof(*j->uids));
	for (k = 0; k < s->nmsgs; k++)
		if (s->deleted[k])
			j->uids[j->n++] = s->msgs[k].uid;
	s->busy = true;
	pop3_enter_state(s, POP3_STATE_BUSY);
	conn_pause(s->base.conn);
	uv_timer_stop(&s->base.timer);
	if (uv_queue_work(s->srv->base.loop, &j->work, update_work,
	    update_done) != 0)
		fatalx("uv_queue_work failed");
}

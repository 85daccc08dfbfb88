/* smtp_filter: the content checks at the end of DATA, before the queue,
 * so that bad mail is refused rather than bounced. A chain of stages,
 * each in its own file, run in order; each ends by calling
 * smtp_filter_next() (go on), smtp_filter_refused() (a reply was sent)
 * or smtp_filter_discard(). Stages that work in the thread pool go
 * through smtp_filter_pool() so that a client leaving mid-way frees the
 * session only once the work is back. The order matters: the cheap
 * structural checks (attachments, bombs) come before anything that
 * reads the whole decoded content, the verdicts (virus, outbreak, spam
 * score) before the content rules that may test them. */
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "content.h"
#include "log.h"
#include "smtp_session_private.h"

typedef void filter_stage(struct smtp_session *s);

static filter_stage *const stages[] = {
	smtp_filter_attach,	/* attachment policy, MIME/archive bombs */
	smtp_filter_av,		/* clamd */
	smtp_filter_outbreak,	/* fuzzy fingerprints across senders */
	smtp_filter_spam,	/* the Bayesian score */
	smtp_filter_rules,	/* the admin's content rules, last */
};
#define NSTAGES (sizeof(stages) / sizeof(stages[0]))

bool
smtp_filter_start(struct smtp_session *s)
{
	s->filter_stage = 0;
	smtp_filter_next(s);
	return false;
}

void
smtp_filter_next(struct smtp_session *s)
{
	if (s->base.conn_gone) {
		smtp_tx_reset(s);
		smtp_free(s);
		return;
	}
	if (s->filter_stage < NSTAGES)
		stages[s->filter_stage++](s);
	else
		smtp_message_queue(s);
}

void
smtp_filter_refused(struct smtp_session *s)
{
	/* The connection was paused at the end of DATA: with no input
	 * waiting, resuming reads nothing and would leave the reply in
	 * the buffer. */
	if (s->base.conn != NULL)
		conn_flush(s->base.conn);
	smtp_tx_reset(s);
	smtp_enter_state(s, SMTP_STATE_READY);
	smtp_session_resume(s);
}

void
smtp_filter_discard(struct smtp_session *s)
{
	log_info("smtp session=%s event=discarded", s->base.id);
	/* The client sees the message accepted, as with any delivery. */
	smtp_reply(s, 250, "2.0.0 Ok: queued as %s", s->qid);
	smtp_filter_refused(s);
}

bool
smtp_filter_pool(struct smtp_session *s, uv_work_t *w, uv_work_cb work,
    uv_after_work_cb after)
{
	s->filtering = true;
	if (uv_queue_work(s->srv->base.loop, w, work, after) != 0) {
		s->filtering = false;
		return false;
	}
	return true;
}

bool
smtp_filter_back(struct smtp_session *s)
{
	s->filtering = false;
	if (s->base.conn_gone) {
		smtp_tx_reset(s);
		smtp_free(s);
		return false;
	}
	return true;
}

void
smtp_filter_abort(struct smtp_session *s)
{
	smtp_filter_av_abort(s);
}

void
smtp_filter_reset(struct smtp_session *s)
{
	content_info_free(s->content);
	s->content = NULL;
	s->filter_stage = 0;
	s->virus[0] = '\0';
	s->spam_scored = false;
	s->spam_score = 0;
	s->hold_reason[0] = '\0';
}

bool
smtp_filter_inbound(const struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;

	return !s->authenticated && s->base.conn != NULL &&
	    !cidr_match_any(cfg->trusted, cfg->ntrusted, s->base.conn->peer_ip);
}

void
smtp_filter_insert_header(struct smtp_session *s, const char *line)
{
	/* Past the size limit the header is left out, the message kept. */
	(void)buf_insert(&s->msg, s->received_len, line, strlen(line));
}

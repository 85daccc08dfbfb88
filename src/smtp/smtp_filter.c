/* smtp_filter: the content checks at the end of DATA, before the queue,
 * so that bad mail is refused rather than bounced. First the message goes
 * to clamd (INSTREAM, asynchronously, within [antivirus] timeout): a
 * virus is refused with 554 5.7.0 naming the signature; when clamd cannot
 * answer, [antivirus] fail_open decides between 451 4.7.0 (the default)
 * and accepting with an X-Virus-Scan header saying it was not scanned.
 * Then mail from outside (not authenticated, not from trusted networks)
 * is scored by the Bayesian filter in the thread pool: X-Spam-Score and
 * X-Spam-Status headers, the Junk folder at [spam] junk_score, a refusal
 * at reject_score, and auto-learning of the very sure cases. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "cidr.h"
#include "clamd.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"
#include "smtp_session_private.h"

/* One classifier per worker process: its token cache is shared by the
 * pool threads that score, one at a time (a score takes ~0.1 ms). */
static pthread_mutex_t spam_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bayes *spam_filter;
static struct store *spam_store;
static bool spam_broken;

struct spam_job {
	uv_work_t		 work;
	struct smtp_session	*s;
	struct bayes_result	 r;
	int			 status;	/* 0, or -1: not scored */
	bool			 learned;
};

static void spam_start(struct smtp_session *s);

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
	spam_start(s);
}

bool
smtp_filter_start(struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	struct clamd_limits lim;
	struct clamd_addr addr;
	const char *error;

	if (cfg->clamd[0] == '\0' ||
	    clamd_addr_parse(cfg->clamd, &addr, &error) < 0) {
		/* (moatd --check refuses a bad address.) */
		spam_start(s);
		return false;
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

/* ---- the spam filter ------------------------------------------------- */

static void
spam_work(uv_work_t *w)
{
	struct spam_job *j = w->data;
	const struct config *cfg = j->s->srv->cfg;
	const struct buf *msg = &j->s->msg;
	const uint8_t *p = msg->data + j->s->received_len;
	size_t len = msg->len - j->s->received_len;
	const char *error = NULL;
	double score;

	j->status = -1;
	pthread_mutex_lock(&spam_lock);
	if (spam_filter == NULL && !spam_broken) {
		if (store_open(cfg->data_dir, &spam_store, &error) < 0) {
			log_warnx("spam event=unavailable error=\"%s\"",
			    error);
			spam_broken = true;
		} else
			spam_filter = bayes_new(spam_store, NULL);
	}
	if (spam_filter != NULL &&
	    bayes_score(spam_filter, p, len, NULL, &j->r) == 0) {
		j->status = 0;
		score = j->r.score * 100.0;
		/* Auto-learn only what the filter is very sure of. */
		if (!j->r.untrained && (score >= cfg->spam_learn_spam ||
		    score <= cfg->spam_learn_ham))
			j->learned = bayes_learn(spam_filter, p, len,
			    score >= cfg->spam_learn_spam ? BAYES_SPAM :
			    BAYES_HAM, NULL, BAYES_LEARN_GLOBAL) == 0;
	}
	pthread_mutex_unlock(&spam_lock);
}

static void
spam_done(uv_work_t *w, int status)
{
	struct spam_job *j = w->data;
	struct smtp_session *s = j->s;
	const struct config *cfg = s->srv->cfg;
	char line[256];
	unsigned pct;

	s->filtering = false;
	if (s->conn_gone || status != 0) {
		free(j);
		if (s->conn_gone) {
			smtp_tx_reset(s);
			smtp_free(s);
			return;
		}
		smtp_message_queue(s);
		return;
	}
	if (j->status == 0) {
		pct = (unsigned)(j->r.score * 100.0 + 0.5);
		log_info("smtp session=%s event=spam score=%.3f verdict=%s "
		    "clues=%zu%s", s->id, j->r.score,
		    bayes_verdict_name(j->r.verdict), j->r.nclues,
		    j->learned ? " learned=yes" : "");
		trace_add(&s->trace, "spam", "score %.3f (%s), %zu clues",
		    j->r.score, bayes_verdict_name(j->r.verdict),
		    j->r.nclues);
		if (cfg->spam_reject > 0 && pct >= cfg->spam_reject) {
			free(j);
			smtp_refuse(s, "spam score", 550, "5.7.1 Message "
			    "refused: it looks like spam (score %u)", pct);
			refused(s);
			return;
		}
		snprintf(line, sizeof(line), "X-Spam-Status: %s, score=%.3f "
		    "tokens=%zu clues=%zu\r\nX-Spam-Score: %.3f\r\n",
		    pct >= cfg->spam_junk ? "Yes" : j->r.verdict ==
		    BAYES_VERDICT_UNSURE ? "Unsure" : "No", j->r.score,
		    j->r.ntokens, j->r.nclues, j->r.score);
		insert_header(s, line);
		if (pct >= cfg->spam_junk)
			s->quarantine = true;	/* the Junk folder */
	}
	free(j);
	smtp_message_queue(s);
}

/* Score mail from outside; everything else goes straight on. */
static void
spam_start(struct smtp_session *s)
{
	const struct config *cfg = s->srv->cfg;
	struct spam_job *j;

	if (!cfg->spam || s->authenticated || s->conn == NULL ||
	    cidr_match_any(cfg->trusted, cfg->ntrusted, s->conn->peer_ip)) {
		smtp_message_queue(s);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->s = s;
	s->filtering = true;
	if (uv_queue_work(s->srv->loop, &j->work, spam_work, spam_done) != 0) {
		s->filtering = false;
		free(j);
		smtp_message_queue(s);
	}
}

/* reject_log: thread-pool writes of rejected-log rows and traces. */
#include "reject_log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

/* Writes waiting per process: beyond this a flood of refusals is
 * logged to the log file only, not queued without bound. */
#define REJECT_LOG_INFLIGHT_MAX	256

/* One write at a time, in order: rows keep the order of the replies and
 * a flood takes one pool thread, not all of them. */
struct reject_job {
	uv_work_t		 work;
	uv_loop_t		*loop;
	struct reject_job	*next;
	struct store_reject	 rej;
	char			*data_dir;
	char			*trace;
	char			*strings[11];	/* owned copies */
};

static unsigned inflight;
static struct reject_job *queue_head, *queue_tail;
static bool running;

static void reject_work(uv_work_t *w);
static void reject_done(uv_work_t *w, int status);

static void
free_job(struct reject_job *j)
{
	size_t i;

	inflight--;
	for (i = 0; i < sizeof(j->strings) / sizeof(j->strings[0]); i++)
		free(j->strings[i]);
	free(j->trace);
	free(j->data_dir);
	free(j);
}

/* Start the oldest waiting write unless one is running. */
static void
run_next(void)
{
	struct reject_job *j;

	while (!running && (j = queue_head) != NULL) {
		queue_head = j->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		if (uv_queue_work(j->loop, &j->work, reject_work,
		    reject_done) == 0) {
			running = true;
			return;
		}
		log_warnx("reject-log: session=%s cannot queue the write",
		    j->rej.session ? j->rej.session : "-");
		free_job(j);
	}
}

static const char *
own(struct reject_job *j, unsigned i, const char *s)
{
	if (s == NULL)
		return NULL;
	j->strings[i] = xstrndup(s, STORE_REJECT_FIELD_MAX);
	return j->strings[i];
}

static void
reject_work(uv_work_t *w)
{
	struct reject_job *j = w->data;
	struct store *st;
	const char *error = NULL;

	if ((st = store_thread(j->data_dir, &error)) == NULL) {
		log_warnx("reject-log: %s", error);
		return;
	}
	if (store_reject_log(st, &j->rej) < 0)
		log_warnx("reject-log: session=%s write failed",
		    j->rej.session ? j->rej.session : "-");
	if (j->trace != NULL && j->rej.ref != NULL &&
	    store_trace_put(st, j->rej.ref, j->rej.session ? j->rej.session :
	    "", j->rej.time, j->trace) < 0)
		log_warnx("reject-log: session=%s trace write failed",
		    j->rej.session ? j->rej.session : "-");
}

static void
reject_done(uv_work_t *w, int status)
{
	(void)status;
	free_job(w->data);
	running = false;
	run_next();
}

void
reject_log_line(const struct store_reject *rej)
{
	log_info("%s session=%s event=refused ip=%s code=%d rule=\"%s\" "
	    "ref=%s%s", rej->service ? rej->service : "-",
	    rej->session ? rej->session : "-", rej->ip ? rej->ip : "-",
	    rej->code, rej->rule ? rej->rule : "-",
	    rej->ref ? rej->ref : "-", rej->shadow ? " shadow=yes" : "");
}

void
reject_log_submit(uv_loop_t *loop, const char *data_dir,
    const struct store_reject *rej, const struct trace *trace)
{
	struct reject_job *j;

	if (inflight >= REJECT_LOG_INFLIGHT_MAX) {
		log_warnx("reject-log: session=%s not stored: %u writes "
		    "pending", rej->session ? rej->session : "-", inflight);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->data_dir = xstrdup(data_dir);
	j->rej.time = rej->time;
	j->rej.code = rej->code;
	j->rej.shadow = rej->shadow;
	j->rej.session = own(j, 0, rej->session);
	j->rej.service = own(j, 1, rej->service);
	j->rej.ip = own(j, 2, rej->ip);
	j->rej.rdns = own(j, 3, rej->rdns);
	j->rej.helo = own(j, 4, rej->helo);
	j->rej.mail_from = own(j, 5, rej->mail_from);
	j->rej.rcpt_to = own(j, 6, rej->rcpt_to);
	j->rej.rule = own(j, 7, rej->rule);
	j->rej.reason = own(j, 8, rej->reason);
	j->rej.ref = own(j, 9, rej->ref);
	if (trace != NULL && trace->len > 0)
		j->trace = xstrdup(trace_text(trace));
	j->loop = loop;
	inflight++;
	if (queue_tail != NULL)
		queue_tail->next = j;
	else
		queue_head = j;
	queue_tail = j;
	run_next();
}

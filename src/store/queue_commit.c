/* queue_commit: file fsync in the thread pool, batched directory fsync. */
#include "queue_commit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

struct commit_req {
	uv_work_t		 work;
	struct queue_commit	*qc;
	char			 id[QUEUE_ID_LEN + 1];
	const struct buf	*env;
	const struct buf	*msg;
	int			 err;
	queue_commit_cb		*cb;
	void			*ctx;
	struct commit_req	*next;
};

struct queue_commit {
	uv_loop_t		*loop;
	char			 data_dir[4096];
	char			 msg_dir[4096];
	unsigned		 pending;
	/* Written and fsync'd, waiting for the next directory fsync. */
	struct commit_req	*ready;
	bool			 syncing;
	uv_work_t		 sync_work;
	struct commit_req	*sync_batch;
	int			 sync_err;
};

struct queue_commit *
queue_commit_new(uv_loop_t *loop, const char *data_dir)
{
	struct queue_commit *qc = xcalloc(1, sizeof(*qc));

	qc->loop = loop;
	moat_strlcpy(qc->data_dir, data_dir, sizeof(qc->data_dir));
	if (queue_dirs_path(data_dir, "msg", qc->msg_dir,
	    sizeof(qc->msg_dir)) < 0)
		fatalx("data_dir path too long");
	return qc;
}

void
queue_commit_free(struct queue_commit **qcp)
{
	free(*qcp);
	*qcp = NULL;
}

unsigned
queue_commit_pending(const struct queue_commit *qc)
{
	return qc->pending;
}

static void start_dir_sync(struct queue_commit *qc);

static void
dir_sync_work(uv_work_t *w)
{
	struct queue_commit *qc = w->data;

	qc->sync_err = fsync_dir(qc->msg_dir) < 0 ? errno : 0;
}

static void
dir_sync_done(uv_work_t *w, int status)
{
	struct queue_commit *qc = w->data;
	struct commit_req *r, *next;
	int err = status < 0 ? EIO : qc->sync_err;

	if (err != 0)
		log_warnx("event=queue-dirsync-failed error=%s", strerror(err));
	for (r = qc->sync_batch; r != NULL; r = next) {
		next = r->next;
		qc->pending--;
		r->cb(r->ctx, err);
		free(r);
	}
	qc->sync_batch = NULL;
	qc->syncing = false;
	if (qc->ready != NULL)
		start_dir_sync(qc);
}

static void
start_dir_sync(struct queue_commit *qc)
{
	qc->syncing = true;
	qc->sync_batch = qc->ready;
	qc->ready = NULL;
	qc->sync_work.data = qc;
	if (uv_queue_work(qc->loop, &qc->sync_work, dir_sync_work,
	    dir_sync_done) != 0) {
		/* Cannot happen with a valid loop; fail safe (tempfail). */
		qc->sync_err = EIO;
		dir_sync_done(&qc->sync_work, -1);
	}
}

static void
write_work(uv_work_t *w)
{
	struct commit_req *r = w->data;

	r->err = queue_write(r->qc->data_dir, r->id, r->env, r->msg) < 0 ?
	    errno : 0;
}

static void
write_done(uv_work_t *w, int status)
{
	struct commit_req *r = w->data;
	struct queue_commit *qc = r->qc;

	if (status < 0 && r->err == 0)
		r->err = EIO;
	if (r->err != 0) {
		log_warnx("event=queue-write-failed id=%s error=%s", r->id,
		    strerror(r->err));
		qc->pending--;
		r->cb(r->ctx, r->err);
		free(r);
		return;
	}
	r->next = qc->ready;
	qc->ready = r;
	if (!qc->syncing)
		start_dir_sync(qc);
}

void
queue_commit_submit(struct queue_commit *qc, const char *id,
    const struct buf *env, const struct buf *msg, queue_commit_cb *cb,
    void *ctx)
{
	struct commit_req *r = xcalloc(1, sizeof(*r));

	r->qc = qc;
	moat_strlcpy(r->id, id, sizeof(r->id));
	r->env = env;
	r->msg = msg;
	r->cb = cb;
	r->ctx = ctx;
	r->work.data = r;
	qc->pending++;
	if (uv_queue_work(qc->loop, &r->work, write_work, write_done) != 0) {
		r->err = EIO;
		write_done(&r->work, -1);
	}
}

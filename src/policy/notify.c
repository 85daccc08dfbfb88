/* notify: security notifications to the admins. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dynscreen.h"
#include "log.h"
#include "queue.h"
#include "util.h"
#include "xalloc.h"

#define ADDR_MAX	320

void
notify_admins(const struct config *cfg, const char *account, char *to_r,
    size_t len)
{
	const char *at, *dot;

	if (cfg->hj_admins[0] != '\0') {
		snprintf(to_r, len, "%s", cfg->hj_admins);
		return;
	}
	if (account != NULL && (at = strrchr(account, '@')) != NULL) {
		snprintf(to_r, len, "postmaster@%s", at + 1);
		return;
	}
	dot = strchr(cfg->hostname, '.');
	snprintf(to_r, len, "postmaster@%s", dot ? dot + 1 : cfg->hostname);
}

struct split_ctx {
	char	**out;
	size_t	 n, max;
};

/* Keep an address (one with an '@'). */
static bool
split_one(void *ctx, const char *item, size_t len)
{
	struct split_ctx *c = ctx;

	if (len <= ADDR_MAX && memchr(item, '@', len) != NULL)
		c->out[c->n++] = xstrndup(item, len);
	return c->n == c->max;
}

static size_t
split_to(const char *list, char **out, size_t max)
{
	struct split_ctx c = { out, 0, max };

	(void)conf_list_each(list, split_one, &c);
	return c.n;
}

int
notify_send(const struct config *cfg, const char *to, const char *session,
    const char *subject, const char *body)
{
	struct queue_envelope env;
	char *rcpts[NOTIFY_TO_MAX], date[64];
	struct buf eb, mb;
	struct tm tm;
	time_t now = time(NULL);
	size_t n, i;
	int r = -1;

	if ((n = split_to(to, rcpts, NOTIFY_TO_MAX)) == 0)
		return -1;
	memset(&env, 0, sizeof(env));
	queue_id_new(env.id);
	env.time = now;
	env.from = "";
	env.rcpts = rcpts;
	env.nrcpts = n;
	env.client_ip = "127.0.0.1";
	env.helo = (char *)cfg->hostname;
	env.service = "notify";
	env.session = (char *)(session ? session : "-");
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		date[0] = '\0';
	buf_init(&eb, QUEUE_ENVELOPE_MAX);
	buf_init(&mb, 0);
	if (queue_envelope_format(&env, &eb) < 0 ||
	    buf_printf(&mb, "From: moat security <MAILER-DAEMON@%s>\r\n"
	    "To: %s\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s.notify@%s>\r\n"
	    "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n%s",
	    cfg->hostname, rcpts[0], subject, date, env.id, cfg->hostname,
	    body) < 0)
		goto out;
	if (queue_write_durable(cfg->data_dir, env.id, &eb, &mb) < 0)
		goto out;
	log_info("notify event=queued id=%s to=%zu subject=\"%.80s\"", env.id,
	    n, subject);
	r = 0;
out:
	buf_deinit(&eb);
	buf_deinit(&mb);
	for (i = 0; i < n; i++)
		free(rcpts[i]);
	return r;
}

struct notify_job {
	uv_work_t		 work;
	const struct config	*cfg;
	char			*to;
	char			*subject;
	char			*body;
};

static void
notify_work(uv_work_t *w)
{
	struct notify_job *j = w->data;

	if (notify_send(j->cfg, j->to, NULL, j->subject, j->body) < 0)
		log_warn("notify event=failed subject=\"%.80s\"", j->subject);
}

static void
notify_done(uv_work_t *w, int status)
{
	struct notify_job *j = w->data;

	(void)status;
	free(j->to);
	free(j->subject);
	free(j->body);
	free(j);
}

void
notify_async(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn, const char *topic, const char *to,
    const char *subject, const char *body)
{
	struct notify_job *j;

	if (dyn != NULL && !dyn_notify_allow(dyn, topic, cfg->notify_interval,
	    time(NULL))) {
		log_info("notify event=suppressed topic=\"%s\" note=\"rate "
		    "limit\"", topic);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->cfg = cfg;
	j->to = xstrdup(to);
	j->subject = xstrndup(subject, 200);
	j->body = xstrndup(body, NOTIFY_BODY_MAX);
	if (uv_queue_work(loop, &j->work, notify_work, notify_done) != 0)
		notify_done(&j->work, 0);
}

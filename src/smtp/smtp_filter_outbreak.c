/* smtp_filter_outbreak: the stage of outbreak protection. Mail from
 * outside (not authenticated, not from trusted networks, not from an
 * [outbreak] exempt sender) is fingerprinted and counted in the shared
 * table in the thread pool (outbreak.h); while one of its keys is in
 * outbreak the message is refused with a 451 (the sender retries later)
 * or, with action = quarantine, accepted and held. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmarc.h"
#include "log.h"
#include "outbreak.h"
#include "spf.h"
#include "util.h"
#include "xalloc.h"
#include "smtp_session_private.h"

#define OUTBREAK_EXEMPT_ITEM_MAX	320	/* one exempt pattern */

struct outbreak_job {
	uv_work_t		 work;
	struct smtp_session	*s;
	struct outbreak_table	*table;
	struct outbreak_limits	 lim;
	char			 ip[64];
	struct outbreak_fp	 fp;
	struct outbreak_verdict	 v;
	int			 status;	/* 0, or -1: not counted */
};

struct exempt_ctx {
	const char	*sender;
};

/* An item: "user@domain", "@domain" (the domain and its subdomains) or
 * a glob ("news-*@example.com"). */
static bool
exempt_item(void *ctx, const char *item, size_t len)
{
	const struct exempt_ctx *c = ctx;
	char pat[OUTBREAK_EXEMPT_ITEM_MAX];
	const char *dom;
	size_t dl, pl;

	if (len == 0 || len >= sizeof(pat))
		return false;
	memcpy(pat, item, len);
	pat[len] = '\0';
	if (pat[0] == '@' && (dom = strrchr(c->sender, '@')) != NULL) {
		dom++;
		dl = strlen(dom);
		pl = len - 1;
		if (ascii_ieq(dom, pat + 1) || (dl > pl &&
		    dom[dl - pl - 1] == '.' && ascii_ieq(dom + dl - pl,
		    pat + 1)))
			return true;
	}
	return fnmatch(pat, c->sender, FNM_CASEFOLD) == 0;
}

/* Only a sender the session verified is exempt (SPF pass for MAIL
 * FROM, or a DMARC pass): the envelope sender alone is anyone's to
 * claim, and an exemption anyone can claim switches the protection off
 * for a mass mailing that forges it. */
static bool
outbreak_exempt(const struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	struct exempt_ctx c = { s->from };
	bool verified = s->spf_result == SPF_PASS ||
	    (s->dmarc_result != NULL && s->dmarc_result->status == DMARC_PASS);

	if (cfg->ob_exempt[0] == '\0' ||
	    !conf_list_each(cfg->ob_exempt, exempt_item, &c))
		return false;
	if (!verified)
		log_info("smtp session=%s event=outbreak-exempt-unverified "
		    "from=<%s>", s->base.id, s->from);
	return verified;
}

static void
outbreak_work(uv_work_t *w)
{
	struct outbreak_job *j = w->data;
	struct smtp_session *s = j->s;
	struct outbreak_event ev;

	outbreak_fingerprint(s->msg.data + s->received_len,
	    s->msg.len - s->received_len, &j->fp);
	ev.ip = j->ip;
	ev.sender = s->from;
	ev.rcpts = (const char *const *)s->rcpts;
	ev.nrcpts = s->nrcpts;
	j->status = outbreak_count(j->table, &j->fp, &ev, &j->lim,
	    time(NULL), &j->v);
}

static void
outbreak_done(uv_work_t *w, int status)
{
	struct outbreak_job *j = w->data;
	struct smtp_session *s = j->s;
	const struct config *cfg = s->srv->base.cfg;
	const struct outbreak_state *st = &j->v.st;
	char key[OUTBREAK_KEY_TEXT];
	bool shadow = cfg->ob_mode == MODE_SHADOW;

	if (!smtp_filter_back(s)) {
		free(j);
		return;
	}
	if (status != 0 || j->status != 0 || !j->v.outbreak) {
		free(j);
		smtp_filter_next(s);
		return;
	}
	outbreak_key_format(st->kind, st->key, key, sizeof(key));
	log_info("smtp session=%s event=outbreak key=%s sources=%u rcpts=%u "
	    "messages=%u action=%s%s%s", s->base.id, key, st->sources, st->rcpts,
	    st->messages, cfg->ob_quarantine ? "quarantine" : "tempfail",
	    j->v.tripped ? " tripped=yes" : "", shadow ? " shadow=yes" : "");
	trace_add(&s->trace, "outbreak", "%s: %u sources, %u recipients, "
	    "%u messages%s", key, st->sources, st->rcpts, st->messages,
	    shadow ? " (shadow)" : "");
	free(j);
	if (shadow) {
		smtp_filter_next(s);
		return;
	}
	if (cfg->ob_quarantine) {
		snprintf(s->hold_reason, sizeof(s->hold_reason), "outbreak %s",
		    key);
		smtp_filter_next(s);
		return;
	}
	smtp_refuse(s, "outbreak", 451, "4.7.1 Message deferred: suspected "
	    "outbreak, try again later");
	smtp_filter_refused(s);
}

/* Fingerprint and count mail from outside; everything else goes on. */
void
smtp_filter_outbreak(struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	struct outbreak_table *t = outbreak_shared();
	struct outbreak_job *j;

	if (!cfg->ob_enabled || t == NULL || !smtp_filter_inbound(s) ||
	    outbreak_exempt(s)) {
		smtp_filter_next(s);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->s = s;
	j->table = t;
	j->lim.sources = cfg->ob_sources;
	j->lim.recipients = cfg->ob_recipients;
	j->lim.window = cfg->ob_window;
	moat_strlcpy(j->ip, s->base.conn->peer_ip, sizeof(j->ip));
	if (!smtp_filter_pool(s, &j->work, outbreak_work, outbreak_done)) {
		free(j);
		smtp_filter_next(s);
	}
}

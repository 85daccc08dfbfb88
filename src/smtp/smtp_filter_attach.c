/* smtp_filter_attach: the attachment stage, first in the chain. The
 * message is scanned (content_scan: MIME parts and zip, gzip and tar
 * members, decoded within [attachments] limits) in the thread pool; the
 * result stays in s->content for the later stages. Then the policy: a
 * file whose name matches block_names or whose detected type is in
 * block_types (also inside archives), or a message over a limit (a
 * bomb), is refused or, with action = quarantine, held. It applies in
 * both directions: a dangerous file sent by an account is as unwelcome
 * as one received, and a compromised account is a common way malware
 * spreads. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"
#include "smtp_session_private.h"

#define ATTACH_GLOB_MAX		64	/* one block_names item */
#define ATTACH_SHOW_MAX		100	/* name octets in replies and logs */
#define ATTACH_REASON_MAX	120

struct attach_job {
	uv_work_t		 work;
	struct smtp_session	*s;
	struct content_limits	 lim;
	struct content_info	*ci;
};

static void
attach_work(uv_work_t *w)
{
	struct attach_job *j = w->data;
	const struct buf *msg = &j->s->msg;

	/* Everything after our Received: header, as the client sent it. */
	j->ci = content_scan(msg->data + j->s->received_len,
	    msg->len - j->s->received_len, &j->lim);
}

/* A name fit for a reply, a log line and the one-line hold reason:
 * printable ASCII without quotes or backslashes, bounded. */
static void
show_name(char *dst, size_t size, const char *src)
{
	size_t i, n = 0;

	for (i = 0; src[i] != '\0' && i < ATTACH_SHOW_MAX && n + 1 < size;
	    i++) {
		unsigned char c = (unsigned char)src[i];

		dst[n++] = c < 0x20 || c > 0x7e || c == '"' || c == '\\' ?
		    '?' : (char)c;
	}
	dst[n] = '\0';
}

struct glob_ctx {
	const char	*name;		/* trailing dots and blanks gone */
	const char	*base;		/* after the last / or \ */
	const char	*hit;		/* the matching glob, when found */
	char		 glob[ATTACH_GLOB_MAX];
};

static bool
glob_item(void *ctx, const char *item, size_t len)
{
	struct glob_ctx *g = ctx;

	if (len >= sizeof(g->glob))
		return false;
	memcpy(g->glob, item, len);
	g->glob[len] = '\0';
	if (fnmatch(g->glob, g->name, FNM_CASEFOLD) == 0 ||
	    fnmatch(g->glob, g->base, FNM_CASEFOLD) == 0) {
		g->hit = g->glob;
		return true;
	}
	return false;
}

/* Does name match one of the globs? Windows ignores trailing dots and
 * blanks ("evil.exe. " runs as evil.exe), so they are dropped first. */
static bool
name_blocked(const char *globs, const char *name, char *hit, size_t size)
{
	struct glob_ctx g;
	char clean[CONTENT_NAME_MAX];
	const char *slash;
	size_t n;

	moat_strlcpy(clean, name, sizeof(clean));
	n = strlen(clean);
	while (n > 0 && (clean[n - 1] == '.' || clean[n - 1] == ' '))
		clean[--n] = '\0';
	g.name = clean;
	g.base = clean;
	if ((slash = strrchr(clean, '/')) != NULL)
		g.base = slash + 1;
	if ((slash = strrchr(g.base, '\\')) != NULL)
		g.base = slash + 1;
	g.hit = NULL;
	if (!conf_list_each(globs, glob_item, &g))
		return false;
	moat_strlcpy(hit, g.hit, size);
	return true;
}

/* The name of p that block_names refuses (either of its names), its
 * glob in hit; NULL: none. */
static const char *
blocked_name(const struct config *cfg, const struct content_part *p,
    char *hit, size_t size)
{
	if (p->name[0] != '\0' && name_blocked(cfg->att_block_names, p->name,
	    hit, size))
		return p->name;
	if (p->alt_name[0] != '\0' && name_blocked(cfg->att_block_names,
	    p->alt_name, hit, size))
		return p->alt_name;
	return NULL;
}

/* The first blocked part, its reason in reason and the name to show in
 * *name_r (the one that matched, when a name did); NULL: none. */
static const struct content_part *
find_blocked(const struct config *cfg, const struct content_info *ci,
    char *reason, size_t size, const char **name_r)
{
	const struct content_part *p;
	char hit[ATTACH_GLOB_MAX];
	size_t i;

	for (i = 0; i < ci->nparts; i++) {
		p = &ci->parts[i];
		if ((*name_r = blocked_name(cfg, p, hit, sizeof(hit))) !=
		    NULL)
			snprintf(reason, size, "name matches %s%s", hit,
			    p->in_archive ? ", in an archive" : "");
		else if (conf_list_has(cfg->att_block_types, p->detected,
		    false)) {
			*name_r = p->name;
			snprintf(reason, size, "type %s%s", p->detected,
			    p->in_archive ? ", in an archive" : "");
		} else
			continue;
		return p;
	}
	return NULL;
}

/* Apply the policy to s->content. true: refused (reply sent). */
static bool
attach_policy(struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	const struct content_info *ci = s->content;
	const struct content_part *p;
	const char *shown = NULL;
	char reason[ATTACH_REASON_MAX], name[ATTACH_SHOW_MAX + 1];
	char rule[ATTACH_SHOW_MAX + 16];

	if (ci->limit != NULL) {
		log_info("smtp session=%s event=attachment-blocked name=- "
		    "reason=\"limit %s\" action=%s", s->base.id, ci->limit,
		    cfg->att_quarantine ? "quarantine" : "reject");
		trace_add(&s->trace, "attachments", "too complex: %s limit",
		    ci->limit);
		if (cfg->att_quarantine) {
			snprintf(s->hold_reason, sizeof(s->hold_reason),
			    "message too complex (%s)", ci->limit);
			return false;
		}
		smtp_refuse(s, "attachment limit", 552, "5.3.4 Message "
		    "refused: too complex (%s)", ci->limit);
		return true;
	}
	if ((p = find_blocked(cfg, ci, reason, sizeof(reason), &shown)) ==
	    NULL) {
		trace_add(&s->trace, "attachments", "%zu parts, none blocked",
		    ci->nparts);
		return false;
	}
	show_name(name, sizeof(name), shown[0] != '\0' ? shown :
	    "(unnamed)");
	log_info("smtp session=%s event=attachment-blocked name=\"%s\" "
	    "reason=\"%s\" action=%s", s->base.id, name, reason,
	    cfg->att_quarantine ? "quarantine" : "reject");
	trace_add(&s->trace, "attachments", "\"%s\" blocked: %s", name,
	    reason);
	if (cfg->att_quarantine) {
		snprintf(s->hold_reason, sizeof(s->hold_reason),
		    "attachment \"%s\" is not allowed (%s)", name, reason);
		return false;
	}
	snprintf(rule, sizeof(rule), "attachment %s", name);
	smtp_refuse(s, rule, 554, "5.7.1 Message refused: attachment \"%s\" "
	    "is not allowed (%s)", name, reason);
	return true;
}

static void
attach_done(uv_work_t *w, int status)
{
	struct attach_job *j = w->data;
	struct smtp_session *s = j->s;

	if (!smtp_filter_back(s)) {
		content_info_free(j->ci);
		free(j);
		return;
	}
	if (status != 0 || j->ci == NULL) {
		content_info_free(j->ci);
		free(j);
		smtp_filter_next(s);
		return;
	}
	content_info_free(s->content);
	s->content = j->ci;
	free(j);
	if (attach_policy(s)) {
		smtp_filter_refused(s);
		return;
	}
	smtp_filter_next(s);
}

void
smtp_filter_attach(struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	struct attach_job *j;

	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->s = s;
	j->lim.max_decoded = cfg->att_max_decoded;
	j->lim.max_depth = cfg->att_max_nesting;
	j->lim.max_parts = cfg->att_max_parts;
	j->lim.archives = cfg->att_archives;
	if (!smtp_filter_pool(s, &j->work, attach_work, attach_done)) {
		free(j);
		smtp_filter_next(s);
	}
}

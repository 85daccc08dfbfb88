/* list_expand: a post to a list becomes one queued copy per active
 * member. See list_expand.h.
 *
 * The post's recipient is done only when every copy is in queue/msg and
 * the directory is fsync'd; when a copy fails, the copies already
 * written are removed before the retry. Only a crash halfway makes the
 * retry queue copies again (a member may get a duplicate, nobody loses
 * the post). */
#include "list_expand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "list_auth.h"
#include "list_digest.h"
#include "list_request.h"
#include "log.h"
#include "mime.h"
#include "store_list.h"
#include "util.h"
#include "xalloc.h"

#define LIST_HDR_LINE_MAX	2048	/* one header we write */
#define LIST_VERP_LOCAL_MAX	64	/* RFC 5321 4.5.3.1.1: else no VERP */

int
list_queue_mail(const struct config *cfg, const char *from, const char *to,
    const char *service, const struct queue_envelope *orig,
    const uint8_t *msg, size_t len, char id_r[QUEUE_ID_LEN + 1])
{
	struct queue_envelope env;
	char *rcpts[1];
	struct buf eb, mb;
	int r, saved;

	memset(&env, 0, sizeof(env));
	queue_id_new(env.id);
	env.time = time(NULL);
	env.from = (char *)from;
	rcpts[0] = (char *)to;
	env.rcpts = rcpts;
	env.nrcpts = 1;
	env.client_ip = "127.0.0.1";
	env.helo = (char *)cfg->hostname;
	env.service = (char *)service;
	env.session = orig != NULL && orig->session != NULL ? orig->session :
	    "-";
	env.eightbit = orig != NULL && orig->eightbit;
	env.smtputf8 = orig != NULL && orig->smtputf8;
	/* An approved post is expanded later: From: rewriting needs it. */
	env.author_dmarc = orig != NULL ? orig->author_dmarc : NULL;
	buf_init(&eb, QUEUE_ENVELOPE_MAX);
	mb.data = (uint8_t *)msg;	/* read only: queue_write */
	mb.len = mb.cap = len;
	mb.max = 0;
	if (queue_envelope_format(&env, &eb) < 0) {
		buf_deinit(&eb);
		errno = EOVERFLOW;
		return -1;
	}
	r = queue_write(cfg->data_dir, env.id, &eb, &mb);
	saved = errno;
	buf_deinit(&eb);
	errno = saved;
	if (r == 0 && id_r != NULL)
		memcpy(id_r, env.id, sizeof(env.id));
	return r;
}

int
list_queue_sync(const struct config *cfg)
{
	char dir[4096];

	if (queue_dirs_path(cfg->data_dir, "msg", dir, sizeof(dir)) < 0)
		return -1;
	return fsync_dir(dir);
}

/* ---- the copy's header section ---------------------------------------- */

static bool
name_is(const struct mime_header *h, const char *name)
{
	return h->name_len == strlen(name) &&
	    ascii_nieq((const char *)h->name, name, h->name_len);
}

/* Fields the list replaces with its own (an upstream list's included). */
static bool
list_field(const struct mime_header *h)
{
	static const char *const names[] = { "List-Id", "List-Help",
		"List-Post", "List-Subscribe", "List-Unsubscribe",
		"List-Unsubscribe-Post", "List-Owner", "List-Archive",
		"Precedence" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name_is(h, names[i]))
			return true;
	return false;
}

/* RFC 2919 list-id: the list address with its '@' made a '.'. */
static void
list_id(const struct list_info *li, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s.%s", li->local, li->domain);
}

/* Does the post carry our own List-Id, or our X-BeenThere (it came back:
 * a loop)? Another list strips our List-Id but keeps X-BeenThere
 * (nobody strips it: each list adds its own), so a loop through a
 * second list shows too. */
static bool
is_looped(const struct mime_part *root, const char *id, const char *addr)
{
	const struct mime_header *h;
	const char *p, *lt, *gt;
	struct buf v;
	size_t n;
	bool r = false;

	buf_init(&v, LIST_HDR_LINE_MAX);
	for (n = 0; !r && (h = mime_header_find_nth(root, "X-BeenThere",
	    n)) != NULL; n++) {
		buf_reset(&v);
		if (mime_header_unfold(h->value, h->value_len, &v) < 0 ||
		    buf_cstr(&v, &p) < 0)
			continue;
		while (*p == ' ' || *p == '\t' || *p == '<')
			p++;
		r = ascii_nieq(p, addr, strlen(addr)) &&
		    strchr(" \t>", p[strlen(addr)]) != NULL;
	}
	for (n = 0; !r && (h = mime_header_find_nth(root, "List-Id", n)) !=
	    NULL; n++) {
		buf_reset(&v);
		if (mime_header_unfold(h->value, h->value_len, &v) < 0 ||
		    buf_cstr(&v, &p) < 0)
			continue;
		if ((lt = strrchr(p, '<')) != NULL &&
		    (gt = strchr(lt, '>')) != NULL &&
		    (size_t)(gt - lt - 1) == strlen(id) &&
		    ascii_nieq(lt + 1, id, strlen(id)))
			r = true;
	}
	buf_deinit(&v);
	return r;
}

/* Automatic mail (RFC 3834 5: Auto-Submitted other than "no": an
 * auto-reply, a notice, a held-post notice of ours) is never a post. */
static bool
is_auto_submitted(const struct mime_part *root)
{
	const struct mime_header *h;
	struct buf v;
	const char *p;
	bool r = false;

	if ((h = mime_header_find(root, "Auto-Submitted")) == NULL)
		return false;
	buf_init(&v, LIST_HDR_LINE_MAX);
	if (mime_header_unfold(h->value, h->value_len, &v) == 0 &&
	    buf_cstr(&v, &p) == 0) {
		while (*p == ' ' || *p == '\t')
			p++;
		r = !(ascii_nieq(p, "no", 2) && (p[2] == '\0' || p[2] == ' ' ||
		    p[2] == '\t' || p[2] == ';' || p[2] == '('));
	}
	buf_deinit(&v);
	return r;
}

/* Does the (decoded) subject already hold the prefix? A reply's
 * "Re: [x] topic" keeps one prefix. */
static bool
has_prefix(const struct mime_header *h, const char *prefix)
{
	struct buf v;
	const char *p;
	size_t pl = strlen(prefix), i;
	bool r = false;

	buf_init(&v, LIST_HDR_LINE_MAX * 4);
	if (mime_header_decode(h->value, h->value_len, &v) == 0 &&
	    buf_cstr(&v, &p) == 0)
		for (i = 0; !r && p[i] != '\0'; i++)
			r = ascii_nieq(p + i, prefix, pl);
	buf_deinit(&v);
	return r;
}

/* Percent-encode s for a URL query (RFC 3986 unreserved kept). */
static int
url_encode(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (; *s != '\0' && r == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			r = buf_append(out, s, 1);
		else
			r = buf_printf(out, "%%%c%c", hex[c >> 4],
			    hex[c & 15]);
	}
	return r;
}

/* The edited header section shared by every copy (without the per-member
 * List-Unsubscribe) into out, then the body. */
struct post {
	const struct list_info	*li;
	const struct config	*cfg;
	struct buf		 head;	/* our fields, then the kept ones */
	const uint8_t		*body;
	size_t			 bodylen;
};

int
list_header_fields(const struct list_info *li, struct buf *out)
{
	char id[LIST_ADDR_MAX + 2];
	int r = 0;

	list_id(li, id, sizeof(id));
	/* RFC 2919 3: the phrase is the list's description, quoted. */
	r |= buf_printf(out, "List-Id: \"%s\" <%s>\r\n", li->name, id);
	r |= buf_printf(out, "List-Help: <mailto:%s-request@%s?subject="
	    "help>\r\n", li->local, li->domain);
	r |= buf_printf(out, "List-Post: <mailto:%s>\r\n", li->address);
	r |= buf_printf(out, "List-Subscribe: <mailto:%s-subscribe@%s>"
	    "\r\n", li->local, li->domain);
	r |= buf_printf(out, "List-Owner: <mailto:%s-owner@%s>\r\n",
	    li->local, li->domain);
	r |= buf_append_str(out, "Precedence: list\r\n");
	/* Kept by every list (list_field does not strip it): is_looped. */
	r |= buf_printf(out, "X-BeenThere: %s\r\n", li->address);
	return r < 0 ? -1 : 0;
}

static int
post_build(struct post *p, const struct mime_part *root, const uint8_t *msg,
    size_t hlen)
{
	const struct list_info *li = p->li;
	bool subject_done = false;
	size_t i;
	int r = 0;

	r |= list_header_fields(li, &p->head);
	if (li->reply_to == LIST_REPLY_LIST)
		r |= buf_printf(&p->head, "Reply-To: <%s>\r\n", li->address);
	for (i = 0; i < root->nheaders && r == 0; i++) {
		const struct mime_header *h = &root->headers[i];

		if (h->off + h->len > hlen)
			break;
		if (list_field(h) || (li->reply_to == LIST_REPLY_LIST &&
		    name_is(h, "Reply-To")))
			continue;
		if (name_is(h, "Subject") && !subject_done) {
			subject_done = true;
			if (li->prefix[0] != '\0' && !has_prefix(h,
			    li->prefix)) {
				const uint8_t *v = h->value;
				size_t vl = h->value_len;

				while (vl > 0 && (*v == ' ' || *v == '\t'))
					v++, vl--;
				r |= buf_printf(&p->head, "Subject: %s ",
				    li->prefix);
				r |= buf_append(&p->head, v, vl);
				r |= buf_append_str(&p->head, "\r\n");
				continue;
			}
		}
		r |= buf_append(&p->head, msg + h->off, h->len);
		/* A last field without its line break (no body). */
		if (h->len > 0 && msg[h->off + h->len - 1] != '\n')
			r |= buf_append_str(&p->head, "\r\n");
	}
	if (!subject_done && li->prefix[0] != '\0')
		r |= buf_printf(&p->head, "Subject: %s\r\n", li->prefix);
	return r < 0 ? -1 : 0;
}

/* One member's copy: List-Unsubscribe (with the one-click URL when
 * [lists] web_url is set), the shared header, the blank line, the
 * body. */
static int
copy_build(const struct config *cfg, const struct list_info *li,
    const struct buf *head, const uint8_t *body, size_t bodylen,
    const char *token, struct buf *out)
{
	int r = 0;

	r |= buf_printf(out, "List-Unsubscribe: <mailto:%s-unsubscribe@%s>",
	    li->local, li->domain);
	if (cfg->list_web_url[0] != '\0' && token != NULL &&
	    token[0] != '\0') {
		r |= buf_printf(out, ",\r\n <%s%slist=", cfg->list_web_url,
		    strchr(cfg->list_web_url, '?') ? "&" : "?");
		r |= url_encode(out, li->address);
		r |= buf_printf(out, "&token=%s>\r\n", token);
		r |= buf_append_str(out, "List-Unsubscribe-Post: "
		    "List-Unsubscribe=One-Click\r\n");
	} else {
		r |= buf_append_str(out, "\r\n");
	}
	r |= buf_append(out, head->data, head->len);
	r |= buf_append_str(out, "\r\n");
	r |= buf_append(out, body, bodylen);
	return r < 0 ? -1 : 0;
}

/* ---- members ----------------------------------------------------------- */

struct member {
	char	*addr;
	char	 token[LIST_TOKEN_LEN + 1];
};

struct members {
	struct member	*v;
	size_t		 n;
	bool		 overflow;
	bool		 digest;	/* take the digest members, or the others */
	bool		 offered;	/* the list offers a digest */
};

static void
collect_member(void *ctx, const char *const *cols, int ncols)
{
	struct members *m = ctx;
	bool digest;

	/* address, state, bounces, joined, token, mode */
	if (ncols < 6 || strcmp(cols[1], "active") != 0)
		return;
	/* A digest member of a list that stopped offering one gets each
	 * post again; what waited goes out in a last digest. */
	digest = strcmp(cols[5], "digest") == 0;
	if (m->digest ? !digest : digest && m->offered)
		return;
	if (m->n == LIST_MEMBERS_MAX) {
		m->overflow = true;
		return;
	}
	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	m->v[m->n].addr = xstrdup(cols[0]);
	moat_strlcpy(m->v[m->n].token, cols[4], sizeof(m->v[0].token));
	m->n++;
}

static void
members_free(struct members *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i].addr);
	free(m->v);
}

void
list_verp_tag(const uint8_t key[LIST_VERP_KEY_LEN], const char *list,
    const char *member, char tag[LIST_VERP_TAG_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char msg[2 * LIST_ADDR_MAX + 2];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0, i;
	int n;

	n = snprintf(msg, sizeof(msg), "%s\n%s", list, member);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	ascii_lower(msg);
	if (HMAC(EVP_sha256(), key, LIST_VERP_KEY_LEN, (const uint8_t *)msg,
	    (size_t)n, md, &mdlen) == NULL || mdlen < LIST_VERP_TAG_LEN / 2) {
		/* Never a tag that verifies. */
		memset(tag, 'x', LIST_VERP_TAG_LEN);
		tag[LIST_VERP_TAG_LEN] = '\0';
		return;
	}
	for (i = 0; i < LIST_VERP_TAG_LEN / 2; i++) {
		tag[2 * i] = hex[md[i] >> 4];
		tag[2 * i + 1] = hex[md[i] & 15];
	}
	tag[LIST_VERP_TAG_LEN] = '\0';
}

/* VERP: LIST-bounces+local=domain+TAG@DOMAIN (TAG: list_verp_tag, so
 * that only a bounce of our copy names the member), or LIST-bounces@DOMAIN
 * when that local part would be longer than SMTP allows. */
static void
verp_sender(const uint8_t key[LIST_VERP_KEY_LEN], const struct list_info *li,
    const char *member, char *out, size_t outlen)
{
	const char *at = strrchr(member, '@');
	char tag[LIST_VERP_TAG_LEN + 1];
	int n = -1;

	list_verp_tag(key, li->address, member, tag);
	if (at != NULL)
		n = snprintf(out, outlen, "%s-bounces+%.*s=%s+%s@%s",
		    li->local, (int)(at - member), member, at + 1, tag,
		    li->domain);
	if (n < 0 || (size_t)n >= outlen || strlen(out) - strlen(li->domain) -
	    1 > LIST_VERP_LOCAL_MAX)
		snprintf(out, outlen, "%s-bounces@%s", li->local, li->domain);
}

/* 1 when addr is li's moderator or an active member, 0 not, -1 db. */
static int
is_member_or_moderator(struct store *st, const struct list_info *li,
    const char *addr)
{
	char state[16];

	if (addr[0] == '\0')
		return 0;
	if (li->moderator[0] != '\0' && ascii_ieq(addr, li->moderator))
		return 1;
	if (store_list_member_state(st, li->address, addr, state, NULL,
	    0) < 0)
		return -1;
	return strcmp(state, "active") == 0;
}

/* The From: addresses of a header section (hlen octets), lower-cased;
 * at most LIST_FROM_ADDRS_MAX. Returns how many. */
static size_t
from_addrs(const uint8_t *msg, size_t hlen,
    char out[LIST_FROM_ADDRS_MAX][LIST_ADDR_MAX + 1])
{
	struct mime_message *mm = mime_parse(msg, hlen);
	const struct mime_header *h;
	struct mime_addr *al = NULL, *a;
	size_t n = 0;
	int w;

	if ((h = mime_header_find(mm->root, "From")) != NULL)
		al = mime_addr_parse(h->value, h->value_len);
	for (a = al; a != NULL && n < LIST_FROM_ADDRS_MAX; a = a->next) {
		/* Group start and end entries have no host. */
		if (a->mailbox == NULL || a->host == NULL ||
		    strcmp(a->host, "MISSING_DOMAIN") == 0 ||
		    strcmp(a->mailbox, "MISSING_MAILBOX") == 0)
			continue;
		w = snprintf(out[n], LIST_ADDR_MAX + 1, "%s@%s", a->mailbox,
		    a->host);
		if (w < 0 || w > LIST_ADDR_MAX)
			continue;
		ascii_lower(out[n]);
		n++;
	}
	mime_addr_free(&al);
	mime_message_free(&mm);
	return n;
}

int
list_may_post(struct store *st, const struct list_info *li,
    const char *sender, const uint8_t *msg, size_t len)
{
	char from[LIST_FROM_ADDRS_MAX][LIST_ADDR_MAX + 1];
	size_t hlen, n, i;
	int r;

	if ((r = is_member_or_moderator(st, li, sender)) != 0)
		return r;
	/* A bounce is nobody's post, whatever its From: says. */
	if (sender[0] == '\0')
		return 0;
	hlen = mime_header_end(msg, len);
	n = from_addrs(msg, hlen < LIST_HEADERS_MAX ? hlen :
	    LIST_HEADERS_MAX, from);
	for (i = 0; i < n; i++)
		if ((r = is_member_or_moderator(st, li, from[i])) != 0)
			return r;
	return 0;
}

int
list_data_policy(struct store *st, char *const *rcpts, size_t nrcpts,
    const char *sender, const uint8_t *msg, size_t len, char *text,
    size_t textlen)
{
	char local[65], domain[256], arg[LIST_ARG_MAX];
	struct list_info li;
	enum list_role role;
	const char *at;
	size_t i;
	int r;

	for (i = 0; i < nrcpts; i++) {
		at = strrchr(rcpts[i], '@');
		if (at == NULL || (size_t)(at - rcpts[i]) > 64)
			continue;
		/* UNSAFE: at points into rcpts[i], at most 64 octets on. */
		memcpy(local, rcpts[i], (size_t)(at - rcpts[i]));
		local[at - rcpts[i]] = '\0';
		ascii_lower(local);
		if (moat_strlcpy(domain, at + 1, sizeof(domain)) >=
		    sizeof(domain))
			continue;
		ascii_lower(domain);
		if (store_list_lookup(st, local, domain, &role, &li, arg,
		    sizeof(arg)) < 0)
			return -1;
		if (role != LIST_ROLE_POST || li.post != LIST_POST_MEMBERS)
			continue;
		if ((r = list_may_post(st, &li, sender, msg, len)) <= 0) {
			if (r == 0)
				snprintf(text, textlen, "5.7.1 <%s>: Only "
				    "members may post to this list (neither "
				    "the sender nor From: is a member)",
				    li.address);
			return r < 0 ? -1 : 1;
		}
	}
	return 0;
}

/* ---- copies ------------------------------------------------------------ */

enum list_outcome
list_send_copies(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    const struct buf *head, const uint8_t *body, size_t bodylen, bool digest,
    size_t *copies_r, char *reason, size_t reasonlen)
{
	struct list_auth_params ap;
	struct members m;
	struct buf copy;
	char from[LIST_ADDR_MAX * 2 + 32];
	char qid[QUEUE_ID_LEN + 1];
	uint8_t key[LIST_VERP_KEY_LEN];
	char *ids;	/* this attempt's copies, QUEUE_ID_LEN + 1 each */
	const char *error = NULL;
	bool per_member = cfg->list_web_url[0] != '\0';
	enum list_outcome out = LIST_DONE;
	size_t i, queued = 0;

	*copies_r = 0;
	memset(&m, 0, sizeof(m));
	m.digest = digest;
	m.offered = li->digest;
	if (store_list_members(st, li->address, collect_member, &m) < 0) {
		members_free(&m);
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return LIST_TEMP;
	}
	if (store_list_verp_key(st, key) < 0) {
		members_free(&m);
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return LIST_TEMP;
	}
	if (m.overflow)
		log_warnx("event=list-truncated id=%s list=%s max=%d", env->id,
		    li->address, LIST_MEMBERS_MAX);
	ids = xreallocarray(NULL, m.n + 1, QUEUE_ID_LEN + 1);
	memset(&ap, 0, sizeof(ap));
	ap.list_addr = li->address;
	ap.list_name = li->name;
	ap.list_domain = li->domain;
	ap.author_dmarc = env->author_dmarc;
	ap.hostname = cfg->hostname;
	ap.strip_dkim = cfg->list_strip_dkim;
	ap.arc_seal = cfg->list_arc_seal;
	buf_init(&copy, 0);
	/* Without a per-member URL every copy is the same: build and sign
	 * it once. */
	for (i = 0; i < m.n; i++) {
		if (i == 0 || per_member) {
			buf_reset(&copy);
			if (copy_build(cfg, li, head, body, bodylen,
			    m.v[i].token, &copy) < 0 ||
			    list_auth_transform(st, &copy, &ap, &error) < 0) {
				log_warnx("event=list-copy-failed id=%s "
				    "list=%s error=\"%s\"", env->id,
				    li->address, error ? error : "too large");
				snprintf(reason, reasonlen, "4.3.0 list copy "
				    "failed: %.100s", error ? error :
				    "too large");
				out = LIST_TEMP;
				break;
			}
		}
		verp_sender(key, li, m.v[i].addr, from, sizeof(from));
		if (list_queue_mail(cfg, from, m.v[i].addr, digest ?
		    "list-digest" : "list", env, copy.data, copy.len,
		    qid) < 0) {
			snprintf(reason, reasonlen, "4.3.0 queue write failed: "
			    "%s", strerror(errno));
			out = LIST_TEMP;
			break;
		}
		memcpy(ids + queued * (QUEUE_ID_LEN + 1), qid, sizeof(qid));
		queued++;
	}
	if (queued > 0 && out == LIST_DONE && list_queue_sync(cfg) < 0) {
		snprintf(reason, reasonlen, "4.3.0 queue fsync failed: %s",
		    strerror(errno));
		out = LIST_TEMP;
	}
	/* The retry queues every copy again: take back this attempt's, or
	 * the members who got one would get it twice. */
	for (i = 0; out != LIST_DONE && i < queued; i++)
		if (queue_remove(cfg->data_dir, ids + i * (QUEUE_ID_LEN + 1)) <
		    0)
			log_warn("event=list-copy-failed id=%s list=%s copy=%s "
			    "note=\"not removed: a duplicate\"", env->id,
			    li->address, ids + i * (QUEUE_ID_LEN + 1));
	free(ids);
	if (out == LIST_DONE)
		*copies_r = queued;
	buf_deinit(&copy);
	members_free(&m);
	return out;
}

/* ---- a post ------------------------------------------------------------ */

static enum list_outcome
expand_post(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    const uint8_t *msg, size_t len, char *reason, size_t reasonlen)
{
	struct mime_message *mm;
	struct post p;
	char id[LIST_ADDR_MAX + 2];
	enum list_outcome out;
	size_t hlen, queued = 0;
	bool looped, automatic, digest_due = false;

	if (li->max_size > 0 && len > li->max_size) {
		snprintf(reason, reasonlen, "5.3.4 message larger than the "
		    "list's limit of %llu octets",
		    (unsigned long long)li->max_size);
		return LIST_FAILED;
	}
	hlen = mime_header_end(msg, len);
	if (hlen > LIST_HEADERS_MAX) {
		snprintf(reason, reasonlen, "5.6.0 header section too large "
		    "for the list");
		return LIST_FAILED;
	}
	/* Loops and automatic mail first: neither is held nor sent on (a
	 * held-post notice mailed to the list would be held again). */
	mm = mime_parse(msg, hlen);
	list_id(li, id, sizeof(id));
	looped = is_looped(mm->root, id, li->address);
	automatic = is_auto_submitted(mm->root);
	mime_message_free(&mm);
	if (looped || automatic) {
		/* Our own copy came back, or a machine wrote: drop it,
		 * once, loudly. */
		log_warnx("event=list-loop id=%s list=%s from=<%s> note=\"%s, "
		    "dropped\"", env->id, li->address, env->from, looped ?
		    "post carries our List-Id or X-BeenThere" :
		    "automatic mail (Auto-Submitted)");
		return LIST_DONE;
	}
	/* Who may post is decided at RCPT and at the end of DATA; checked
	 * again here for posts queued before a change (and for mail put in
	 * the queue by us). */
	if (strcmp(env->service ? env->service : "", "list-approved") != 0) {
		int ok = li->post != LIST_POST_MEMBERS ? 1 :
		    list_may_post(st, li, env->from, msg, len);

		if (ok < 0) {
			snprintf(reason, reasonlen, "4.3.0 database lookup "
			    "failed");
			return LIST_TEMP;
		}
		if (ok == 0) {
			snprintf(reason, reasonlen, "5.7.1 only members may "
			    "post to %s", li->address);
			return LIST_FAILED;
		}
		if (li->post == LIST_POST_MODERATED && !(li->moderator[0] &&
		    ascii_ieq(env->from, li->moderator)))
			return list_request_hold(st, cfg, env, li, msg, len,
			    reason, reasonlen);
	}
	/* The digest members' share first: kept once per post, so that a
	 * retry after a failed copy below does not keep it twice. */
	if (li->digest && list_digest_keep(st, env, li, msg, len,
	    &digest_due, reason, reasonlen) < 0)
		return LIST_TEMP;
	mm = mime_parse(msg, hlen);
	memset(&p, 0, sizeof(p));
	p.li = li;
	p.cfg = cfg;
	buf_init(&p.head, LIST_HEADERS_MAX + 8192);
	p.body = msg + hlen;
	p.bodylen = len - hlen;
	if (hlen == len && (hlen < 2 || msg[hlen - 1] != '\n')) {
		p.body = (const uint8_t *)"";
		p.bodylen = 0;
	}
	if (post_build(&p, mm->root, msg, hlen) < 0) {
		mime_message_free(&mm);
		buf_deinit(&p.head);
		snprintf(reason, reasonlen, "5.6.0 header section too large "
		    "for the list");
		return LIST_FAILED;
	}
	mime_message_free(&mm);
	out = list_send_copies(st, cfg, env, li, &p.head, p.body, p.bodylen,
	    false, &queued, reason, reasonlen);
	if (out == LIST_DONE)
		log_info("event=list-expanded id=%s list=%s from=<%s> "
		    "copies=%zu", env->id, li->address, env->from, queued);
	buf_deinit(&p.head);
	/* digest_size reached: the digest goes now (else the runner's
	 * check sends it). */
	if (out == LIST_DONE && digest_due)
		(void)list_digest_send(st, cfg, li, NULL);
	return out;
}

int
list_owner_address(struct store *st, const struct list_info *li, char *to,
    size_t tolen)
{
	char local[65], arg[LIST_ARG_MAX];
	struct list_info other;
	enum list_role role = LIST_ROLE_NONE;
	const char *at = strrchr(li->moderator, '@');

	/* A moderator that is a list address (set before moatctl refused
	 * it, or a list made later) would mail the list itself: a loop. */
	if (li->moderator[0] != '\0' && at != NULL &&
	    (size_t)(at - li->moderator) < sizeof(local)) {
		memcpy(local, li->moderator, (size_t)(at - li->moderator));
		local[at - li->moderator] = '\0';
		if (store_list_lookup(st, local, at + 1, &role, &other, arg,
		    sizeof(arg)) < 0)
			return -1;
		if (role == LIST_ROLE_NONE) {
			moat_strlcpy(to, li->moderator, tolen);
			return 0;
		}
	}
	snprintf(to, tolen, "postmaster@%s", li->domain);
	return 0;
}

/* LIST-owner@: to the moderator, else postmaster of the list's domain. */
static enum list_outcome
to_owner(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const struct list_info *li,
    const uint8_t *msg, size_t len, char *reason, size_t reasonlen)
{
	char to[LIST_ADDR_MAX + 16];

	if (list_owner_address(st, li, to, sizeof(to)) < 0) {
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return LIST_TEMP;
	}
	if (list_queue_mail(cfg, env->from, to, "list-owner", env, msg, len,
	    NULL) < 0 || list_queue_sync(cfg) < 0) {
		snprintf(reason, reasonlen, "4.3.0 queue write failed: %s",
		    strerror(errno));
		return LIST_TEMP;
	}
	log_info("event=list-owner id=%s list=%s to=<%s>", env->id,
	    li->address, to);
	return LIST_DONE;
}

enum list_outcome
list_deliver(struct store *st, const struct config *cfg,
    const struct queue_envelope *env, const uint8_t *msg, size_t len,
    const char *local, const char *domain, char *reason, size_t reasonlen)
{
	struct list_info li;
	enum list_role role;
	char arg[LIST_ARG_MAX];

	if (store_list_lookup(st, local, domain, &role, &li, arg,
	    sizeof(arg)) < 0) {
		snprintf(reason, reasonlen, "4.3.0 database lookup failed");
		return LIST_TEMP;
	}
	switch (role) {
	case LIST_ROLE_NONE:
		return LIST_NOT_LIST;
	case LIST_ROLE_POST:
		return expand_post(st, cfg, env, &li, msg, len, reason,
		    reasonlen);
	case LIST_ROLE_OWNER:
		return to_owner(st, cfg, env, &li, msg, len, reason,
		    reasonlen);
	default:
		return list_request_handle(st, cfg, env, &li, role, arg, msg,
		    len, reason, reasonlen);
	}
}

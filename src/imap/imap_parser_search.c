/* imap_parser_search: the SEARCH grammar (RFC 9051 search-key with the
 * IMAP4rev1 keys, CONDSTORE MODSEQ, SEARCHRES "$", ESEARCH RETURN) and
 * SORT and THREAD (RFC 5256) on top of the argument tree. */
#include <string.h>

#include "imap_parser.h"
#include "imap_parser_private.h"

enum key_arg {
	KA_NONE = 0,
	KA_ASTRING,
	KA_DATE,
	KA_NUMBER,
	KA_KEYWORD,
	KA_HEADER,
	KA_UIDSET,
	KA_NOT,
	KA_OR,
	KA_MODSEQ,
};

static const struct {
	const char		*name;
	enum imap_search_op	 op;
	enum key_arg		 arg;
} keys[] = {
	{ "ALL", IMAP_SEARCH_ALL, KA_NONE },
	{ "ANSWERED", IMAP_SEARCH_ANSWERED, KA_NONE },
	{ "DELETED", IMAP_SEARCH_DELETED, KA_NONE },
	{ "DRAFT", IMAP_SEARCH_DRAFT, KA_NONE },
	{ "FLAGGED", IMAP_SEARCH_FLAGGED, KA_NONE },
	{ "SEEN", IMAP_SEARCH_SEEN, KA_NONE },
	{ "UNANSWERED", IMAP_SEARCH_UNANSWERED, KA_NONE },
	{ "UNDELETED", IMAP_SEARCH_UNDELETED, KA_NONE },
	{ "UNDRAFT", IMAP_SEARCH_UNDRAFT, KA_NONE },
	{ "UNFLAGGED", IMAP_SEARCH_UNFLAGGED, KA_NONE },
	{ "UNSEEN", IMAP_SEARCH_UNSEEN, KA_NONE },
	{ "NEW", IMAP_SEARCH_NEW, KA_NONE },
	{ "OLD", IMAP_SEARCH_OLD, KA_NONE },
	{ "RECENT", IMAP_SEARCH_RECENT, KA_NONE },
	{ "KEYWORD", IMAP_SEARCH_KEYWORD, KA_KEYWORD },
	{ "UNKEYWORD", IMAP_SEARCH_UNKEYWORD, KA_KEYWORD },
	{ "BCC", IMAP_SEARCH_BCC, KA_ASTRING },
	{ "BODY", IMAP_SEARCH_BODY, KA_ASTRING },
	{ "CC", IMAP_SEARCH_CC, KA_ASTRING },
	{ "FROM", IMAP_SEARCH_FROM, KA_ASTRING },
	{ "SUBJECT", IMAP_SEARCH_SUBJECT, KA_ASTRING },
	{ "TEXT", IMAP_SEARCH_TEXT, KA_ASTRING },
	{ "TO", IMAP_SEARCH_TO, KA_ASTRING },
	{ "HEADER", IMAP_SEARCH_HEADER, KA_HEADER },
	{ "BEFORE", IMAP_SEARCH_BEFORE, KA_DATE },
	{ "ON", IMAP_SEARCH_ON, KA_DATE },
	{ "SINCE", IMAP_SEARCH_SINCE, KA_DATE },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE, KA_DATE },
	{ "SENTON", IMAP_SEARCH_SENTON, KA_DATE },
	{ "SENTSINCE", IMAP_SEARCH_SENTSINCE, KA_DATE },
	{ "LARGER", IMAP_SEARCH_LARGER, KA_NUMBER },
	{ "SMALLER", IMAP_SEARCH_SMALLER, KA_NUMBER },
	{ "UID", IMAP_SEARCH_UID, KA_UIDSET },
	{ "NOT", IMAP_SEARCH_NOT, KA_NOT },
	{ "OR", IMAP_SEARCH_OR, KA_OR },
	{ "MODSEQ", IMAP_SEARCH_MODSEQ, KA_MODSEQ },
};

struct sctx {
	struct imap_parser		*p;
	const struct imap_command	*cmd;
	struct imap_parse_error		*err;
};

static int
bad(struct sctx *s, const char *reason)
{
	return imap_fail(s->err, s->cmd, IMAP_PERR_SYNTAX, reason);
}

static int key_list(struct sctx *s, const struct imap_arg *a,
    unsigned depth, struct imap_search_key *parent);

/* entry-name = DQUOTE "/flags/" attr-flag DQUOTE
 * entry-type-req = "priv" / "shared" / "all" */
static bool
modseq_entry(const struct imap_arg *name, const struct imap_arg *type)
{
	struct imap_slice f;

	if (name->type != IMAP_ARG_QUOTED || name->str.len <= 7 ||
	    memcmp(name->str.p, "/flags/", 7) != 0 || type == NULL ||
	    type->type != IMAP_ARG_ATOM)
		return false;
	f.p = name->str.p + 7;
	f.len = name->str.len - 7;
	if (!imap_valid_flag(f))
		return false;
	return imap_slice_ieq(type->str, "priv") ||
	    imap_slice_ieq(type->str, "shared") ||
	    imap_slice_ieq(type->str, "all");
}

/* search-key = "ALL" / "ANSWERED" / "BCC" SP astring /
 *     "BEFORE" SP date / "BODY" SP astring / "CC" SP astring /
 *     "DELETED" / "FLAGGED" / "FROM" SP astring /
 *     "KEYWORD" SP flag-keyword / "ON" SP date / "SEEN" /
 *     "SINCE" SP date / "SUBJECT" SP astring / "TEXT" SP astring /
 *     "TO" SP astring / "UNANSWERED" / "UNDELETED" / "UNFLAGGED" /
 *     "UNKEYWORD" SP flag-keyword / "UNSEEN" / "DRAFT" /
 *     "HEADER" SP header-fld-name SP astring / "LARGER" SP number64 /
 *     "NOT" SP search-key / "OR" SP search-key SP search-key /
 *     "SENTBEFORE" SP date / "SENTON" SP date / "SENTSINCE" SP date /
 *     "SMALLER" SP number64 / "UID" SP sequence-set / "UNDRAFT" /
 *     sequence-set / "(" search-key *(SP search-key) ")"
 * IMAP4rev1 adds "NEW" / "OLD" / "RECENT"; RFC 7162 adds
 *     "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
 * Parses the key at *ap and advances *ap past its arguments. */
static int
search_key(struct sctx *s, const struct imap_arg **ap, unsigned depth,
    struct imap_search_key *k)
{
	const struct imap_arg *a = *ap, *v;
	struct imap_search_key *c;
	struct imap_slice name;
	size_t i;

	if (depth > s->p->limits.max_depth)
		return imap_fail(s->err, s->cmd, IMAP_PERR_TOO_DEEP,
		    "search keys nested too deeply");
	if (a->type == IMAP_ARG_LIST) {
		k->op = IMAP_SEARCH_AND;
		if (a->count == 0)
			return bad(s, "empty search key list");
		*ap = a->next;
		return key_list(s, a->list, depth + 1, k);
	}
	if (!imap_arg_atom_text(a, &name))
		return bad(s, "invalid search key");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (imap_slice_ieq(name, keys[i].name))
			break;
	if (i == sizeof(keys) / sizeof(keys[0])) {
		k->op = IMAP_SEARCH_SEQSET;
		if (imap_parse_seqset(s->p, a, true, &k->set, s->err) < 0) {
			if (s->err->code == IMAP_PERR_SYNTAX)
				s->err->reason = "unknown search key";
			s->err->tag = s->cmd->tag;
			return -1;
		}
		*ap = a->next;
		return 0;
	}
	k->op = keys[i].op;
	v = a->next;
	switch (keys[i].arg) {
	case KA_NONE:
		*ap = v;
		return 0;
	case KA_ASTRING:
		if (!imap_arg_is_astring(v))
			return bad(s, "search key needs a string");
		k->str = v->str;
		break;
	case KA_DATE:
		if (imap_parse_date(v, &k->date) < 0)
			return bad(s, "search key needs a date");
		break;
	case KA_NUMBER:
		if (v == NULL || v->type != IMAP_ARG_NUMBER)
			return bad(s, "search key needs a number");
		k->num = v->num;
		break;
	case KA_KEYWORD:
		if (v == NULL || v->type != IMAP_ARG_ATOM ||
		    v->section != NULL || !imap_valid_flag(v->str) ||
		    v->str.p[0] == '\\')
			return bad(s, "search key needs a keyword");
		k->str = v->str;
		break;
	case KA_HEADER:
		if (!imap_arg_is_astring(v) || !imap_arg_is_astring(v->next))
			return bad(s, "HEADER needs a field name and a "
			    "string");
		k->str = v->str;
		k->str2 = v->next->str;
		v = v->next;
		break;
	case KA_UIDSET:
		if (v == NULL)
			return bad(s, "UID needs a set");
		if (imap_parse_seqset(s->p, v, true, &k->set, s->err) < 0) {
			s->err->tag = s->cmd->tag;
			return -1;
		}
		break;
	case KA_MODSEQ:
		if (v != NULL && v->type == IMAP_ARG_QUOTED) {
			if (!modseq_entry(v, v->next))
				return bad(s, "invalid MODSEQ entry");
			k->str = v->str;
			k->str2 = v->next->str;
			v = v->next->next;
		}
		if (v == NULL || v->type != IMAP_ARG_NUMBER)
			return bad(s, "MODSEQ needs a number");
		k->num = v->num;
		break;
	case KA_NOT:
	case KA_OR:
		if (v == NULL)
			return bad(s, "NOT/OR needs a search key");
		c = imap_alloc(s->p, 1, sizeof(*c));
		k->child = c;
		if (search_key(s, &v, depth + 1, c) < 0)
			return -1;
		if (keys[i].arg == KA_OR) {
			if (v == NULL)
				return bad(s, "OR needs two search keys");
			c->next = imap_alloc(s->p, 1, sizeof(*c));
			if (search_key(s, &v, depth + 1,
			    (struct imap_search_key *)c->next) < 0)
				return -1;
		}
		*ap = v;
		return 0;
	}
	*ap = v->next;
	return 0;
}

/* search-key *(SP search-key) into parent's children */
static int
key_list(struct sctx *s, const struct imap_arg *a, unsigned depth,
    struct imap_search_key *parent)
{
	struct imap_search_key *prev = NULL, *k;

	while (a != NULL) {
		k = imap_alloc(s->p, 1, sizeof(*k));
		if (search_key(s, &a, depth, k) < 0)
			return -1;
		if (prev == NULL)
			parent->child = k;
		else
			prev->next = k;
		prev = k;
	}
	return 0;
}

/* search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)
 * search-charset = atom / quoted (SORT and THREAD: mandatory) */
int
imap_parse_search_keys(struct imap_parser *p, const struct imap_command *cmd,
    const struct imap_arg *a, bool charset_required, struct imap_search *out,
    struct imap_parse_error *err)
{
	struct sctx s = { .p = p, .cmd = cmd, .err = err };
	struct imap_search_key *root;

	if (charset_required || (a != NULL && a->type == IMAP_ARG_ATOM &&
	    imap_slice_ieq(a->str, "CHARSET"))) {
		if (!charset_required)
			a = a->next;
		if (a == NULL || a->section != NULL ||
		    (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED) ||
		    a->str.len == 0)
			return bad(&s, "invalid charset");
		out->has_charset = true;
		out->charset = a->str;
		a = a->next;
	}
	if (a == NULL)
		return bad(&s, "missing search keys");
	root = imap_alloc(p, 1, sizeof(*root));
	root->op = IMAP_SEARCH_AND;
	out->root = root;
	return key_list(&s, a, 1, root);
}

/* search-return-opts = SP "RETURN" SP "(" [search-return-opt
 *                      *(SP search-return-opt)] ")"
 * search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" /
 *                     "SAVE" (RFC 5182)
 * When *a is RETURN, fill out->esearch and out->ret ("()" means ALL) and
 * step *a past the list. */
static int
return_opts(const struct imap_command *cmd, const struct imap_arg **a,
    struct imap_search *out, struct imap_parse_error *err)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} rets[] = {
		{ "MIN", IMAP_SEARCH_RET_MIN },
		{ "MAX", IMAP_SEARCH_RET_MAX },
		{ "ALL", IMAP_SEARCH_RET_ALL },
		{ "COUNT", IMAP_SEARCH_RET_COUNT },
		{ "SAVE", IMAP_SEARCH_RET_SAVE },
	};
	const struct imap_arg *r;
	size_t i;

	if (*a == NULL || (*a)->type != IMAP_ARG_ATOM ||
	    !imap_slice_ieq((*a)->str, "RETURN") || (*a)->next == NULL ||
	    (*a)->next->type != IMAP_ARG_LIST)
		return 0;
	out->esearch = true;
	for (r = (*a)->next->list; r != NULL; r = r->next) {
		for (i = 0; i < sizeof(rets) / sizeof(rets[0]); i++)
			if (r->type == IMAP_ARG_ATOM &&
			    imap_slice_ieq(r->str, rets[i].name))
				break;
		if (i == sizeof(rets) / sizeof(rets[0]))
			return imap_fail(err, cmd, IMAP_PERR_SYNTAX,
			    "unknown SEARCH return option");
		out->ret |= rets[i].bit;
	}
	if (out->ret == 0)
		out->ret = IMAP_SEARCH_RET_ALL;
	*a = (*a)->next->next;
	return 0;
}

/* search = "SEARCH" [search-return-opts] SP search-program */
int
imap_parse_search(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_search *out, struct imap_parse_error *err)
{
	const struct imap_arg *a = cmd->args;

	memset(out, 0, sizeof(*out));
	if (return_opts(cmd, &a, out, err) < 0)
		return -1;
	return imap_parse_search_keys(p, cmd, a, false, out, err);
}

/* sort = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP
 *        search-charset 1*(SP search-key)	; ESORT, RFC 5267
 * sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"
 * sort-criterion = ["REVERSE" SP] sort-key
 * sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" /
 *            "TO" */
int
imap_parse_sort(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_sort *out, struct imap_parse_error *err)
{
	static const char *const names[] = { "ARRIVAL", "CC", "DATE", "FROM",
		"SIZE", "SUBJECT", "TO" };
	const struct imap_arg *l = cmd->args, *c;
	struct imap_sort_criterion *cr;
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	if (return_opts(cmd, &l, &out->search, err) < 0)
		return -1;
	if (l == NULL || l->type != IMAP_ARG_LIST || l->count == 0)
		return imap_fail(err, cmd, IMAP_PERR_SYNTAX,
		    "expected sort criteria");
	cr = imap_alloc(p, l->count, sizeof(*cr));
	for (c = l->list; c != NULL; c = c->next) {
		if (c->type == IMAP_ARG_ATOM &&
		    imap_slice_ieq(c->str, "REVERSE")) {
			cr[n].reverse = true;
			c = c->next;
		}
		for (i = 0; c != NULL && i < sizeof(names) / sizeof(names[0]);
		    i++)
			if (c->type == IMAP_ARG_ATOM &&
			    imap_slice_ieq(c->str, names[i]))
				break;
		if (c == NULL || i == sizeof(names) / sizeof(names[0]))
			return imap_fail(err, cmd, IMAP_PERR_SYNTAX,
			    "invalid sort criterion");
		cr[n++].key = (enum imap_sort_key)(IMAP_SORT_ARRIVAL + i);
	}
	out->criteria = cr;
	out->count = n;
	return imap_parse_search_keys(p, cmd, l->next, true, &out->search,
	    err);
}

/* thread = ["UID" SP] "THREAD" SP thread-alg SP search-charset
 *          1*(SP search-key)
 * thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext
 * thread-alg-ext = atom */
int
imap_parse_thread(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_thread *out, struct imap_parse_error *err)
{
	const struct imap_arg *a = cmd->args;

	memset(out, 0, sizeof(*out));
	if (a == NULL || a->type != IMAP_ARG_ATOM || a->section != NULL ||
	    !imap_valid_flag(a->str) || a->str.p[0] == '\\')
		return imap_fail(err, cmd, IMAP_PERR_SYNTAX,
		    "expected a thread algorithm");
	out->alg_name = a->str;
	if (imap_slice_ieq(a->str, "ORDEREDSUBJECT"))
		out->alg = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_slice_ieq(a->str, "REFERENCES"))
		out->alg = IMAP_THREAD_REFERENCES;
	else
		out->alg = IMAP_THREAD_OTHER;
	return imap_parse_search_keys(p, cmd, a->next, true, &out->search,
	    err);
}

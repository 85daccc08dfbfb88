/* imap_parser_fetch: the FETCH (attributes, sections, partials, macros,
 * CONDSTORE/QRESYNC modifiers) and STORE grammars on top of the argument
 * tree. */
#include <string.h>

#include "imap_parser.h"
#include "imap_parser_private.h"

static int
bad(struct imap_parse_error *err, const struct imap_command *cmd,
    const char *reason)
{
	return imap_fail(err, cmd, IMAP_PERR_SYNTAX, reason);
}

/* section-part = nz-number *("." nz-number)
 * section-spec = section-msgtext / (section-part ["." section-text])
 * section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
 *                   "TEXT"
 * section-text = section-msgtext / "MIME"
 * header-list = "(" header-fld-name *(SP header-fld-name) ")"
 * header-fld-name = astring
 * section-binary = "[" [section-part] "]"  (binary: only parts) */
static int
parse_section(struct imap_parser *p, const struct imap_arg *sec,
    bool binary, struct imap_section *out)
{
	const struct imap_arg *a = sec->list, *h;
	struct imap_slice s, rest;
	struct imap_slice *fields;
	size_t i = 0, start, n = 0;

	memset(out, 0, sizeof(*out));
	if (a == NULL)
		return 0;
	if (!imap_arg_atom_text(a, &s) || a->type == IMAP_ARG_NIL)
		return -1;
	/* leading nz-numbers, dot separated */
	while (i < s.len && imap_is_digit(s.p[i])) {
		struct imap_slice num;
		uint64_t v;

		start = i;
		while (i < s.len && imap_is_digit(s.p[i]))
			i++;
		num.p = s.p + start;
		num.len = i - start;
		if (num.p[0] == '0' ||
		    imap_slice_number(num, 1, UINT32_MAX, &v) < 0 ||
		    out->nparts == IMAP_SECTION_PARTS_MAX)
			return -1;
		out->parts[out->nparts++] = (uint32_t)v;
		if (i == s.len)
			break;
		if (s.p[i] != '.')
			return -1;
		i++;
		if (i == s.len)
			return -1;
	}
	rest.p = s.p + i;
	rest.len = s.len - i;
	if (binary) {
		if (rest.len != 0 || a->next != NULL)
			return -1;
		return 0;
	}
	if (rest.len == 0)
		out->text = IMAP_SECTION_ALL;
	else if (imap_slice_ieq(rest, "HEADER"))
		out->text = IMAP_SECTION_HEADER;
	else if (imap_slice_ieq(rest, "HEADER.FIELDS"))
		out->text = IMAP_SECTION_HEADER_FIELDS;
	else if (imap_slice_ieq(rest, "HEADER.FIELDS.NOT"))
		out->text = IMAP_SECTION_HEADER_FIELDS_NOT;
	else if (imap_slice_ieq(rest, "TEXT"))
		out->text = IMAP_SECTION_TEXT;
	else if (imap_slice_ieq(rest, "MIME") && out->nparts > 0)
		out->text = IMAP_SECTION_MIME;
	else
		return -1;
	if (out->text != IMAP_SECTION_HEADER_FIELDS &&
	    out->text != IMAP_SECTION_HEADER_FIELDS_NOT)
		return a->next == NULL ? 0 : -1;
	h = a->next;
	if (h == NULL || h->type != IMAP_ARG_LIST || h->count == 0 ||
	    h->next != NULL)
		return -1;
	fields = imap_alloc(p, h->count, sizeof(*fields));
	for (a = h->list; a != NULL; a = a->next) {
		if (!imap_arg_is_astring(a) || a->str.len == 0)
			return -1;
		fields[n++] = a->str;
	}
	out->fields = fields;
	out->nfields = n;
	return 0;
}

/* partial = "<" number64 "." nz-number64 ">" */
static int
parse_partial(struct imap_slice s, struct imap_fetch_item *it)
{
	const uint8_t *dot;
	struct imap_slice a, b;

	if (s.len == 0)
		return 0;
	if (s.len < 5 || s.p[0] != '<' || s.p[s.len - 1] != '>')
		return -1;
	dot = memchr(s.p, '.', s.len);
	if (dot == NULL)
		return -1;
	a.p = s.p + 1;
	a.len = (size_t)(dot - a.p);
	b.p = dot + 1;
	b.len = s.len - 2 - a.len - 1;
	if (imap_slice_number(a, 0, IMAP_NUMBER64_MAX, &it->offset) < 0 ||
	    imap_slice_number(b, 1, IMAP_NUMBER64_MAX, &it->count) < 0)
		return -1;
	it->partial = true;
	return 0;
}

static const struct {
	const char		*name;
	enum imap_fetch_att	 att;
} plain_atts[] = {
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "UID", IMAP_FETCH_UID },
	{ "MODSEQ", IMAP_FETCH_MODSEQ },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
};

/* fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822.SIZE" /
 *     "BODY" ["STRUCTURE"] / "UID" / "BODY" section [partial] /
 *     "BODY.PEEK" section [partial] /
 *     "BINARY" [".PEEK"] section-binary [partial] /
 *     "BINARY.SIZE" section-binary /
 *     "MODSEQ" (RFC 7162) / "RFC822" / "RFC822.HEADER" / "RFC822.TEXT"
 *     (IMAP4rev1) */
static int
fetch_att(struct imap_parser *p, const struct imap_arg *a,
    struct imap_fetch_item *it)
{
	size_t i;

	memset(it, 0, sizeof(*it));
	if (a->type != IMAP_ARG_ATOM)
		return -1;
	if (a->section == NULL) {
		for (i = 0; i < sizeof(plain_atts) / sizeof(plain_atts[0]);
		    i++)
			if (imap_slice_ieq(a->str, plain_atts[i].name)) {
				it->att = plain_atts[i].att;
				return 0;
			}
		return -1;
	}
	if (imap_slice_ieq(a->str, "BODY")) {
		it->att = IMAP_FETCH_BODY_SECTION;
	} else if (imap_slice_ieq(a->str, "BODY.PEEK")) {
		it->att = IMAP_FETCH_BODY_SECTION;
		it->peek = true;
	} else if (imap_slice_ieq(a->str, "BINARY")) {
		it->att = IMAP_FETCH_BINARY;
	} else if (imap_slice_ieq(a->str, "BINARY.PEEK")) {
		it->att = IMAP_FETCH_BINARY;
		it->peek = true;
	} else if (imap_slice_ieq(a->str, "BINARY.SIZE")) {
		it->att = IMAP_FETCH_BINARY_SIZE;
	} else {
		return -1;
	}
	if (parse_section(p, a->section, it->att != IMAP_FETCH_BODY_SECTION,
	    &it->section) < 0)
		return -1;
	if (it->att == IMAP_FETCH_BINARY_SIZE)
		return a->partial.len == 0 ? 0 : -1;
	return parse_partial(a->partial, it);
}

/* fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *         fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
 * fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
 * fetch-modifier = "CHANGEDSINCE" SP mod-sequence-value /
 *                  "VANISHED"  (UID FETCH with CHANGEDSINCE, RFC 7162) */
int
imap_parse_fetch(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_fetch *out, struct imap_parse_error *err)
{
	static const enum imap_fetch_att macro[] = { IMAP_FETCH_FLAGS,
		IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
		IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY };
	const struct imap_arg *atts = imap_cmd_arg(cmd, 1), *mods, *a;
	struct imap_fetch_item *items;
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	if (cmd->argc < 2 || cmd->argc > 3)
		return bad(err, cmd, "expected FETCH set attributes");
	if (imap_parse_seqset(p, cmd->args, true, &out->set, err) < 0) {
		err->tag = cmd->tag;
		return -1;
	}
	if (atts->type == IMAP_ARG_ATOM && atts->section == NULL &&
	    (imap_slice_ieq(atts->str, "ALL") ||
	    imap_slice_ieq(atts->str, "FAST") ||
	    imap_slice_ieq(atts->str, "FULL"))) {
		n = imap_slice_ieq(atts->str, "FAST") ? 3 :
		    imap_slice_ieq(atts->str, "ALL") ? 4 : 5;
		items = imap_alloc(p, n, sizeof(*items));
		for (i = 0; i < n; i++)
			items[i].att = macro[i];
	} else if (atts->type == IMAP_ARG_LIST) {
		if (atts->count == 0)
			return bad(err, cmd, "empty FETCH attribute list");
		items = imap_alloc(p, atts->count, sizeof(*items));
		for (a = atts->list; a != NULL; a = a->next)
			if (fetch_att(p, a, &items[n++]) < 0)
				return bad(err, cmd,
				    "invalid FETCH attribute");
	} else {
		items = imap_alloc(p, 1, sizeof(*items));
		if (fetch_att(p, atts, &items[n++]) < 0)
			return bad(err, cmd, "invalid FETCH attribute");
	}
	out->items = items;
	out->count = n;
	mods = atts->next;
	if (mods == NULL)
		return 0;
	if (mods->type != IMAP_ARG_LIST || mods->count == 0)
		return bad(err, cmd, "invalid FETCH modifiers");
	for (a = mods->list; a != NULL; a = a->next) {
		if (a->type == IMAP_ARG_ATOM &&
		    imap_slice_ieq(a->str, "CHANGEDSINCE") &&
		    !out->has_changedsince && a->next != NULL &&
		    a->next->type == IMAP_ARG_NUMBER && a->next->num > 0) {
			a = a->next;
			out->has_changedsince = true;
			out->changedsince = a->num;
		} else if (a->type == IMAP_ARG_ATOM &&
		    imap_slice_ieq(a->str, "VANISHED") && !out->vanished &&
		    cmd->cmd == IMAP_CMD_UID_FETCH) {
			out->vanished = true;
		} else {
			return bad(err, cmd, "invalid FETCH modifier");
		}
	}
	if (out->vanished && !out->has_changedsince)
		return bad(err, cmd, "VANISHED needs CHANGEDSINCE");
	return 0;
}

/* store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
 * store-modifiers = SP "(" store-modifier *(SP store-modifier) ")"
 * store-modifier = "UNCHANGEDSINCE" SP mod-sequence-valzer ; RFC 7162
 * store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
 *                   (flag-list / (flag *(SP flag))) */
int
imap_parse_store(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_store *out, struct imap_parse_error *err)
{
	const struct imap_arg *a;
	struct imap_slice s, *f;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (cmd->argc < 3)
		return bad(err, cmd, "expected STORE set item flags");
	if (imap_parse_seqset(p, cmd->args, true, &out->set, err) < 0) {
		err->tag = cmd->tag;
		return -1;
	}
	a = cmd->args->next;
	if (a->type == IMAP_ARG_LIST) {
		const struct imap_arg *m;

		if (a->count == 0)
			return bad(err, cmd, "invalid STORE modifiers");
		for (m = a->list; m != NULL; m = m->next) {
			if (m->type != IMAP_ARG_ATOM ||
			    !imap_slice_ieq(m->str, "UNCHANGEDSINCE") ||
			    out->has_unchangedsince || m->next == NULL ||
			    m->next->type != IMAP_ARG_NUMBER)
				return bad(err, cmd,
				    "invalid STORE modifier");
			m = m->next;
			out->has_unchangedsince = true;
			out->unchangedsince = m->num;
		}
		a = a->next;
	}
	if (a->type != IMAP_ARG_ATOM || a->section != NULL)
		return bad(err, cmd, "invalid STORE item");
	s = a->str;
	if (s.len > 0 && (s.p[0] == '+' || s.p[0] == '-')) {
		out->op = s.p[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		s.p++;
		s.len--;
	}
	if (imap_slice_ieq(s, "FLAGS.SILENT"))
		out->silent = true;
	else if (!imap_slice_ieq(s, "FLAGS"))
		return bad(err, cmd, "invalid STORE item");
	a = a->next;
	if (a == NULL)
		return bad(err, cmd, "STORE without flags");
	if (a->type == IMAP_ARG_LIST) {
		if (a->next != NULL)
			return bad(err, cmd, "extra STORE arguments");
		if (imap_parse_flag_list(p, a, &out->flags, err) < 0) {
			err->tag = cmd->tag;
			return -1;
		}
		return 0;
	}
	f = imap_alloc(p, cmd->argc, sizeof(*f));
	for (; a != NULL; a = a->next) {
		if (!imap_arg_atom_text(a, &f[n]) || !imap_valid_flag(f[n]))
			return bad(err, cmd, "invalid flag");
		n++;
	}
	out->flags.flags = f;
	out->flags.count = n;
	return 0;
}

/* fuzz_mime: libFuzzer target for the mime module. Parses the input as a
 * message, checks the part tree's invariants (slices inside the input,
 * children inside their parent), renders BODY, BODYSTRUCTURE and every
 * ENVELOPE, decodes and extracts the text of every part, and runs the
 * header decoders over every header field. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"

#define FUZZ_OUT_MAX	(64 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_part(const struct mime_message *m, const struct mime_part *p,
    struct buf *out)
{
	const struct mime_part *c;
	struct mime_addr *a;
	size_t i, n = 0;
	bool bad = false;

	if (p->hdr_off > m->len || p->hdr_len > m->len - p->hdr_off ||
	    p->body_off > m->len || p->body_len > m->len - p->body_off ||
	    p->hdr_off + p->hdr_len > p->body_off || p->depth > MIME_DEPTH_MAX)
		abort();
	if (p->type == NULL || p->subtype == NULL)
		abort();
	for (i = 0; i < p->nheaders; i++) {
		const struct mime_header *h = &p->headers[i];

		if (h->value < m->data || h->value + h->value_len >
		    m->data + m->len || h->off + h->len > m->len)
			abort();
		buf_reset(out);
		if (mime_header_decode(h->value, h->value_len, out) < 0)
			abort();
		a = mime_addr_parse(h->value, h->value_len);
		mime_addr_free(&a);
	}
	buf_reset(out);
	if (mime_part_decode(m, p, out, &bad) < 0)
		abort();
	buf_reset(out);
	if (mime_part_text(m, p, out) < 0)
		abort();
	for (c = p->children; c != NULL; c = c->next) {
		if (c->parent != p || c->hdr_off < p->body_off ||
		    c->body_off + c->body_len > p->body_off + p->body_len)
			abort();
		n++;
		check_part(m, c, out);
	}
	if (n != p->nchildren)
		abort();
	if ((p->flags & MIME_PART_MESSAGE) != 0 && p->children != NULL) {
		buf_reset(out);
		if (mime_envelope(m, p->children, out) < 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *m;
	struct buf out;
	uint8_t *copy;

	/* an exactly sized copy so that ASan sees any read past size */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	m = mime_parse(copy, size);
	buf_init(&out, FUZZ_OUT_MAX);
	if (m->nparts > MIME_PARTS_MAX + 1)
		abort();
	if (mime_bodystructure(m, m->root, true, &out) < 0)
		abort();
	buf_reset(&out);
	if (mime_bodystructure(m, m->root, false, &out) < 0)
		abort();
	buf_reset(&out);
	if (mime_envelope(m, m->root, &out) < 0)
		abort();
	check_part(m, m->root, &out);
	(void)mime_part_by_section(m, (const char *)copy,
	    size < 16 ? size : 16);
	buf_deinit(&out);
	mime_message_free(&m);
	free(copy);
	return 0;
}

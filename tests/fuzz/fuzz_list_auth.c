/* fuzz_list_auth: libFuzzer target for list_auth_transform's header
 * surgery (no store: nothing is signed). The first input octet picks the
 * author's DMARC policy and whether DKIM signatures are stripped; the
 * rest is the post. It must never crash, and a stripped result must hold
 * no DKIM-Signature field the parser can see, nor more than one From. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "list_auth.h"
#include "log.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const pols[] = { NULL, "none", "quarantine",
	    "reject" };
	static bool init;
	struct list_auth_params p = {
		.list_addr = "test@lists.example",
		.list_name = "Test \"List\"",
		.list_domain = "lists.example",
		.hostname = "mx.lists.example",
		.arc_seal = true,
	};
	struct mime_message *in, *out;
	struct buf b;
	const char *error = NULL;

	if (!init) {
		log_init("fuzz", LOG_LEVEL_WARN);
		init = true;
	}
	if (size < 1)
		return 0;
	p.author_dmarc = pols[data[0] & 3];
	p.strip_dkim = (data[0] & 4) != 0;
	data++;
	size--;
	buf_init(&b, 0);
	if (buf_append(&b, data, size) < 0)
		abort();
	in = mime_parse(data, size);
	if (list_auth_transform(NULL, &b, &p, &error) == 0 &&
	    in->root->nheaders < MIME_HEADERS_MAX / 2) {
		out = mime_parse(b.data, b.len);
		if (p.strip_dkim && mime_header_find(out->root,
		    "DKIM-Signature") != NULL)
			abort();
		if (mime_header_find_nth(in->root, "From", 1) == NULL &&
		    mime_header_find_nth(out->root, "From", 1) != NULL)
			abort();
		mime_message_free(&out);
	}
	mime_message_free(&in);
	buf_deinit(&b);
	return 0;
}

/* list_request: (not written yet). */
#ifndef MOAT_LIST_REQUEST_H
#define MOAT_LIST_REQUEST_H
#endif

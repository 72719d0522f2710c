/*
 * caller.h
 *		Who "the caller" of an ms.* function is, and the switch to the
 *		extension's owner for the protected work (see caller.c).
 */
#ifndef MS_CALLER_H
#define MS_CALLER_H

/*
 * One entry into the extension: the role whose code made the call, and
 * what to restore when the call leaves.  Lives on the entry function's
 * C stack; entries nest (a processor calling ms.knn during an ingest).
 */
typedef struct MsCallerFrame
{
	Oid			caller;			/* GetUserId() when the call entered */
	Oid			owner;			/* the role the protected work runs as */
	Oid			save_userid;
	int			save_sec_context;
	bool		save_sandbox_suspended;
	struct MsCallerFrame *outer;
} MsCallerFrame;

extern void ms_enter(MsCallerFrame *frame);
extern void ms_leave(MsCallerFrame *frame);
extern Oid	ms_current_caller(void);
extern bool ms_caller_is_privileged(Oid caller);
extern Oid	ms_extension_owner(void);
extern Datum ms_call_as_owner(PGFunction fn, FunctionCallInfo fcinfo);

#endif

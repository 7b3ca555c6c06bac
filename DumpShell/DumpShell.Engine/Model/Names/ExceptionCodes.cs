namespace DumpShell.Model.Names;

/// <summary>Names and meanings of exception codes: NTSTATUS, C++ and CLR codes on Windows, signals on Linux, Mach exceptions on macOS.</summary>
public static class ExceptionCodes
{
    public const uint AccessViolation = 0xC0000005;
    public const uint InPageError = 0xC0000006;
    public const uint StackBufferOverrun = 0xC0000409;
    public const uint CppException = 0xE06D7363;
    public const uint ClrException = 0xE0434352;

    private static readonly Dictionary<uint, (string Name, string Meaning)> Windows = new()
    {
        [0x80000001] = ("STATUS_GUARD_PAGE_VIOLATION", "A guard page was touched."),
        [0x80000002] = ("EXCEPTION_DATATYPE_MISALIGNMENT", "Misaligned data was accessed."),
        [0x80000003] = ("EXCEPTION_BREAKPOINT", "A breakpoint (int 3) was hit."),
        [0x80000004] = ("EXCEPTION_SINGLE_STEP", "A single-step or hardware breakpoint trap."),
        [0xC0000005] = ("EXCEPTION_ACCESS_VIOLATION", "Access violation."),
        [0xC0000006] = ("EXCEPTION_IN_PAGE_ERROR", "A page could not be read in (I/O error on a mapped file or the page file)."),
        [0xC0000008] = ("STATUS_INVALID_HANDLE", "An invalid handle was used."),
        [0xC000000D] = ("STATUS_INVALID_PARAMETER", "An invalid parameter was passed to a service or function."),
        [0xC0000017] = ("STATUS_NO_MEMORY", "Not enough virtual memory or paging file quota."),
        [0xC000001D] = ("EXCEPTION_ILLEGAL_INSTRUCTION", "An invalid instruction was executed."),
        [0xC0000025] = ("EXCEPTION_NONCONTINUABLE_EXCEPTION", "Execution continued after a noncontinuable exception."),
        [0xC0000026] = ("EXCEPTION_INVALID_DISPOSITION", "An exception handler returned an invalid disposition."),
        [0xC000008C] = ("EXCEPTION_ARRAY_BOUNDS_EXCEEDED", "An array index was out of bounds."),
        [0xC000008D] = ("EXCEPTION_FLT_DENORMAL_OPERAND", "Floating-point denormal operand."),
        [0xC000008E] = ("EXCEPTION_FLT_DIVIDE_BY_ZERO", "Floating-point division by zero."),
        [0xC000008F] = ("EXCEPTION_FLT_INEXACT_RESULT", "Floating-point inexact result."),
        [0xC0000090] = ("EXCEPTION_FLT_INVALID_OPERATION", "Floating-point invalid operation."),
        [0xC0000091] = ("EXCEPTION_FLT_OVERFLOW", "Floating-point overflow."),
        [0xC0000092] = ("EXCEPTION_FLT_STACK_CHECK", "Floating-point stack overflow or underflow."),
        [0xC0000093] = ("EXCEPTION_FLT_UNDERFLOW", "Floating-point underflow."),
        [0xC0000094] = ("EXCEPTION_INT_DIVIDE_BY_ZERO", "Integer division by zero."),
        [0xC0000095] = ("EXCEPTION_INT_OVERFLOW", "Integer overflow."),
        [0xC0000096] = ("EXCEPTION_PRIV_INSTRUCTION", "A privileged instruction was executed in user mode."),
        [0xC00000FD] = ("EXCEPTION_STACK_OVERFLOW", "The thread used up its stack."),
        [0xC0000135] = ("STATUS_DLL_NOT_FOUND", "A required DLL was not found."),
        [0xC0000139] = ("STATUS_ENTRYPOINT_NOT_FOUND", "A procedure entry point was not found in a DLL."),
        [0xC0000142] = ("STATUS_DLL_INIT_FAILED", "A DLL's initialization routine failed."),
        [0xC000013A] = ("STATUS_CONTROL_C_EXIT", "The application was ended by Ctrl+C."),
        [0xC0000194] = ("STATUS_POSSIBLE_DEADLOCK", "A critical-section wait timed out: a possible deadlock."),
        [0xC0000374] = ("STATUS_HEAP_CORRUPTION", "The heap manager found a corrupted heap."),
        [0xC0000409] = ("STATUS_STACK_BUFFER_OVERRUN", "Fail-fast: the process ended itself after detecting corruption or a fatal condition."),
        [0xC0000420] = ("STATUS_ASSERTION_FAILURE", "An assertion failed."),
        [0xC0000602] = ("STATUS_FAIL_FAST_EXCEPTION", "A fail-fast exception was raised."),
        [0xC06D007E] = ("VcppException (module not found)", "Delay-load: a DLL could not be found."),
        [0xC06D007F] = ("VcppException (procedure not found)", "Delay-load: an entry point could not be found."),
        [0xE06D7363] = ("CPP_EH_EXCEPTION", "A C++ exception was thrown (throw) and not caught."),
        [0xE0434352] = ("CLR_EXCEPTION", "A .NET exception (CLR 4+)."),
        [0xE0434F4D] = ("CLR_EXCEPTION_V2", "A .NET exception (CLR 2)."),
        [0x40010005] = ("DBG_CONTROL_C", "Ctrl+C was sent to a console process being debugged."),
        [0x406D1388] = ("MS_VC_EXCEPTION_SET_THREAD_NAME", "A thread name was set the old way (a debugger-handled exception)."),
        [0x4000001F] = ("STATUS_WX86_BREAKPOINT", "A breakpoint in a WOW64 (32-bit) process."),
    };

    // Linux signal numbers (Breakpad writes the signal as the exception code).
    private static readonly Dictionary<uint, (string Name, string Meaning)> Linux = new()
    {
        [1] = ("SIGHUP", "Hangup."),
        [2] = ("SIGINT", "Interrupted."),
        [3] = ("SIGQUIT", "Quit."),
        [4] = ("SIGILL", "Illegal instruction."),
        [5] = ("SIGTRAP", "Trace or breakpoint trap."),
        [6] = ("SIGABRT", "Aborted (abort())."),
        [7] = ("SIGBUS", "Bus error: a bad memory access."),
        [8] = ("SIGFPE", "Arithmetic error (such as division by zero)."),
        [9] = ("SIGKILL", "Killed."),
        [11] = ("SIGSEGV", "Segmentation fault: an invalid memory access."),
        [13] = ("SIGPIPE", "Write to a pipe with no reader."),
        [15] = ("SIGTERM", "Terminated."),
        [31] = ("SIGSYS", "Bad system call."),
    };

    // Mach exception types (Breakpad on macOS).
    private static readonly Dictionary<uint, (string Name, string Meaning)> MacOS = new()
    {
        [1] = ("EXC_BAD_ACCESS", "Bad memory access."),
        [2] = ("EXC_BAD_INSTRUCTION", "Illegal or undefined instruction."),
        [3] = ("EXC_ARITHMETIC", "Arithmetic exception (such as division by zero)."),
        [4] = ("EXC_EMULATION", "Emulation instruction."),
        [5] = ("EXC_SOFTWARE", "Software exception (often an uncaught signal such as SIGABRT)."),
        [6] = ("EXC_BREAKPOINT", "Trace or breakpoint trap."),
        [10] = ("EXC_CRASH", "Abnormal exit."),
        [11] = ("EXC_RESOURCE", "Resource limit exceeded."),
        [12] = ("EXC_GUARD", "Guarded resource violated."),
    };

    private static readonly Dictionary<ulong, string> FastFail = new()
    {
        [0] = "FAST_FAIL_LEGACY_GS_VIOLATION",
        [1] = "FAST_FAIL_VTGUARD_CHECK_FAILURE",
        [2] = "FAST_FAIL_STACK_COOKIE_CHECK_FAILURE",
        [3] = "FAST_FAIL_CORRUPT_LIST_ENTRY",
        [4] = "FAST_FAIL_INCORRECT_STACK",
        [5] = "FAST_FAIL_INVALID_ARG",
        [6] = "FAST_FAIL_GS_COOKIE_INIT",
        [7] = "FAST_FAIL_FATAL_APP_EXIT",
        [8] = "FAST_FAIL_RANGE_CHECK_FAILURE",
        [9] = "FAST_FAIL_UNSAFE_REGISTRY_ACCESS",
        [10] = "FAST_FAIL_GUARD_ICALL_CHECK_FAILURE",
        [11] = "FAST_FAIL_GUARD_WRITE_CHECK_FAILURE",
        [12] = "FAST_FAIL_INVALID_FIBER_SWITCH",
        [13] = "FAST_FAIL_INVALID_SET_OF_CONTEXT",
        [14] = "FAST_FAIL_INVALID_REFERENCE_COUNT",
        [18] = "FAST_FAIL_INVALID_JUMP_BUFFER",
        [19] = "FAST_FAIL_MRDATA_MODIFIED",
        [20] = "FAST_FAIL_CERTIFICATION_FAILURE",
        [21] = "FAST_FAIL_INVALID_EXCEPTION_CHAIN",
        [22] = "FAST_FAIL_CRYPTO_LIBRARY",
        [23] = "FAST_FAIL_INVALID_CALL_IN_DLL_CALLOUT",
    };

    public static (string? Name, string Meaning) Describe(uint code, string platform)
    {
        var table = platform switch { "Linux" or "Android" => Linux, "macOS" or "iOS" => MacOS, _ => Windows };
        if (table.TryGetValue(code, out var known)) return known;
        return (null, platform is "Linux" or "Android" or "macOS" or "iOS"
            ? $"Exception code {code} (0x{code:X})."
            : $"Exception 0x{code:X8} ({Severity(code)}).");
    }

    private static string Severity(uint code) => (code >> 30) switch
    {
        0 => "success status",
        1 => "informational status",
        2 => "warning status",
        _ => (code & 0x20000000) != 0 ? "a customer-defined error code" : "an error status",
    };

    public static string? FastFailName(ulong subCode) => FastFail.GetValueOrDefault(subCode);

    /// <summary>EXCEPTION_ACCESS_VIOLATION's first parameter.</summary>
    public static string AccessKind(ulong parameter) => parameter switch
    {
        0 => "Read",
        1 => "Write",
        8 => "Execute",
        _ => $"Unknown ({parameter})",
    };
}

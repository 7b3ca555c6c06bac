namespace DumpShell.Model.Names;

/// <summary>
/// Names and messages of common Win32 error codes (GetLastError) and NTSTATUS values (TEB.LastStatusValue), for
/// !gle-style output. A small table of the codes that come up in dump analysis, not the whole of winerror.h.
/// </summary>
public static class ErrorCodes
{
    private static readonly Dictionary<uint, (string Name, string Message)> Win32 = new()
    {
        [0] = ("ERROR_SUCCESS", "The operation completed successfully."),
        [1] = ("ERROR_INVALID_FUNCTION", "Incorrect function."),
        [2] = ("ERROR_FILE_NOT_FOUND", "The system cannot find the file specified."),
        [3] = ("ERROR_PATH_NOT_FOUND", "The system cannot find the path specified."),
        [4] = ("ERROR_TOO_MANY_OPEN_FILES", "The system cannot open the file."),
        [5] = ("ERROR_ACCESS_DENIED", "Access is denied."),
        [6] = ("ERROR_INVALID_HANDLE", "The handle is invalid."),
        [8] = ("ERROR_NOT_ENOUGH_MEMORY", "Not enough memory resources are available to process this command."),
        [13] = ("ERROR_INVALID_DATA", "The data is invalid."),
        [14] = ("ERROR_OUTOFMEMORY", "Not enough memory resources are available to complete this operation."),
        [18] = ("ERROR_NO_MORE_FILES", "There are no more files."),
        [32] = ("ERROR_SHARING_VIOLATION", "The process cannot access the file because it is being used by another process."),
        [33] = ("ERROR_LOCK_VIOLATION", "The process cannot access the file because another process has locked a portion of the file."),
        [38] = ("ERROR_HANDLE_EOF", "Reached the end of the file."),
        [50] = ("ERROR_NOT_SUPPORTED", "The request is not supported."),
        [53] = ("ERROR_BAD_NETPATH", "The network path was not found."),
        [64] = ("ERROR_NETNAME_DELETED", "The specified network name is no longer available."),
        [80] = ("ERROR_FILE_EXISTS", "The file exists."),
        [87] = ("ERROR_INVALID_PARAMETER", "The parameter is incorrect."),
        [109] = ("ERROR_BROKEN_PIPE", "The pipe has been ended."),
        [112] = ("ERROR_DISK_FULL", "There is not enough space on the disk."),
        [120] = ("ERROR_CALL_NOT_IMPLEMENTED", "This function is not supported on this system."),
        [122] = ("ERROR_INSUFFICIENT_BUFFER", "The data area passed to a system call is too small."),
        [123] = ("ERROR_INVALID_NAME", "The filename, directory name, or volume label syntax is incorrect."),
        [126] = ("ERROR_MOD_NOT_FOUND", "The specified module could not be found."),
        [127] = ("ERROR_PROC_NOT_FOUND", "The specified procedure could not be found."),
        [145] = ("ERROR_DIR_NOT_EMPTY", "The directory is not empty."),
        [170] = ("ERROR_BUSY", "The requested resource is in use."),
        [183] = ("ERROR_ALREADY_EXISTS", "Cannot create a file when that file already exists."),
        [203] = ("ERROR_ENVVAR_NOT_FOUND", "The system could not find the environment option that was entered."),
        [206] = ("ERROR_FILENAME_EXCED_RANGE", "The filename or extension is too long."),
        [231] = ("ERROR_PIPE_BUSY", "All pipe instances are busy."),
        [232] = ("ERROR_NO_DATA", "The pipe is being closed."),
        [233] = ("ERROR_PIPE_NOT_CONNECTED", "No process is on the other end of the pipe."),
        [234] = ("ERROR_MORE_DATA", "More data is available."),
        [258] = ("WAIT_TIMEOUT", "The wait operation timed out."),
        [259] = ("ERROR_NO_MORE_ITEMS", "No more data is available."),
        [267] = ("ERROR_DIRECTORY", "The directory name is invalid."),
        [288] = ("ERROR_NOT_OWNER", "Attempt to release mutex not owned by caller."),
        [298] = ("ERROR_TOO_MANY_POSTS", "Too many posts were made to a semaphore."),
        [487] = ("ERROR_INVALID_ADDRESS", "Attempt to access invalid address."),
        [535] = ("ERROR_PIPE_CONNECTED", "There is a process on other end of the pipe."),
        [536] = ("ERROR_PIPE_LISTENING", "Waiting for a process to open the other end of the pipe."),
        [995] = ("ERROR_OPERATION_ABORTED", "The I/O operation has been aborted because of either a thread exit or an application request."),
        [996] = ("ERROR_IO_INCOMPLETE", "Overlapped I/O event is not in a signaled state."),
        [997] = ("ERROR_IO_PENDING", "Overlapped I/O operation is in progress."),
        [998] = ("ERROR_NOACCESS", "Invalid access to memory location."),
        [1008] = ("ERROR_NO_TOKEN", "An attempt was made to reference a token that does not exist."),
        [1060] = ("ERROR_SERVICE_DOES_NOT_EXIST", "The specified service does not exist as an installed service."),
        [1168] = ("ERROR_NOT_FOUND", "Element not found."),
        [1223] = ("ERROR_CANCELLED", "The operation was canceled by the user."),
        [1231] = ("ERROR_NETWORK_UNREACHABLE", "The network location cannot be reached."),
        [1314] = ("ERROR_PRIVILEGE_NOT_HELD", "A required privilege is not held by the client."),
        [1400] = ("ERROR_INVALID_WINDOW_HANDLE", "Invalid window handle."),
        [1450] = ("ERROR_NO_SYSTEM_RESOURCES", "Insufficient system resources exist to complete the requested service."),
        [1455] = ("ERROR_COMMITMENT_LIMIT", "The paging file is too small for this operation to complete."),
        [1460] = ("ERROR_TIMEOUT", "This operation returned because the timeout period expired."),
        [1722] = ("RPC_S_SERVER_UNAVAILABLE", "The RPC server is unavailable."),
        [1726] = ("RPC_S_CALL_FAILED", "The remote procedure call failed."),
        [10035] = ("WSAEWOULDBLOCK", "A non-blocking socket operation could not be completed immediately."),
        [10054] = ("WSAECONNRESET", "An existing connection was forcibly closed by the remote host."),
        [10060] = ("WSAETIMEDOUT", "A connection attempt failed because the connected party did not properly respond after a period of time."),
        [10061] = ("WSAECONNREFUSED", "No connection could be made because the target machine actively refused it."),
    };

    private static readonly Dictionary<uint, string> NtStatus = new()
    {
        [0x00000000] = "STATUS_SUCCESS",
        [0x00000102] = "STATUS_TIMEOUT",
        [0x00000103] = "STATUS_PENDING",
        [0x80000005] = "STATUS_BUFFER_OVERFLOW",
        [0x80000006] = "STATUS_NO_MORE_FILES",
        [0x8000001A] = "STATUS_NO_MORE_ENTRIES",
        [0xC0000001] = "STATUS_UNSUCCESSFUL",
        [0xC0000002] = "STATUS_NOT_IMPLEMENTED",
        [0xC0000004] = "STATUS_INFO_LENGTH_MISMATCH",
        [0xC000000F] = "STATUS_NO_SUCH_FILE",
        [0xC0000011] = "STATUS_END_OF_FILE",
        [0xC0000022] = "STATUS_ACCESS_DENIED",
        [0xC0000023] = "STATUS_BUFFER_TOO_SMALL",
        [0xC0000024] = "STATUS_OBJECT_TYPE_MISMATCH",
        [0xC0000033] = "STATUS_OBJECT_NAME_INVALID",
        [0xC0000034] = "STATUS_OBJECT_NAME_NOT_FOUND",
        [0xC0000035] = "STATUS_OBJECT_NAME_COLLISION",
        [0xC000003A] = "STATUS_OBJECT_PATH_NOT_FOUND",
        [0xC0000043] = "STATUS_SHARING_VIOLATION",
        [0xC0000061] = "STATUS_PRIVILEGE_NOT_HELD",
        [0xC000009A] = "STATUS_INSUFFICIENT_RESOURCES",
        [0xC00000BB] = "STATUS_NOT_SUPPORTED",
        [0xC0000120] = "STATUS_CANCELLED",
        [0xC0000225] = "STATUS_NOT_FOUND",
    };

    /// <summary>Win32 errors that are usually harmless (patterns.md, Last Error Collection guards).</summary>
    public static readonly IReadOnlySet<uint> HarmlessWin32 = new HashSet<uint> { 122, 126, 127, 183, 234, 258, 259, 997, 1168 };

    /// <summary>NTSTATUS values that are usually harmless.</summary>
    public static readonly IReadOnlySet<uint> HarmlessStatus = new HashSet<uint> { 0xC0000034 };

    /// <summary>Values that deserve a Warning on an important thread (invalid handle, access denied, resources, memory).</summary>
    public static readonly IReadOnlySet<uint> SeriousWin32 = new HashSet<uint> { 5, 6, 8, 14, 1450, 1455 };

    public static readonly IReadOnlySet<uint> SeriousStatus = new HashSet<uint> { 0xC0000008, 0xC0000017 };

    /// <summary>The Win32 error's name and message, or nulls for a code this table does not know.</summary>
    public static (string? Name, string? Message) Win32Error(uint code) =>
        Win32.TryGetValue(code, out var known) ? known : (null, null);

    /// <summary>The NTSTATUS's symbolic name, or null when unknown.</summary>
    public static string? StatusName(uint status)
    {
        if (NtStatus.TryGetValue(status, out string? name)) return name;
        var (exceptionName, _) = ExceptionCodes.Describe(status, "Windows");
        return exceptionName;
    }

    /// <summary>"5 ERROR_ACCESS_DENIED" or "1234" for an unknown code.</summary>
    public static string FormatWin32(uint code) => Win32Error(code).Name is { } n ? $"{code} {n}" : code.ToString();

    /// <summary>"0xC0000034 STATUS_OBJECT_NAME_NOT_FOUND" or "0x12345678".</summary>
    public static string FormatStatus(uint status) => StatusName(status) is { } n ? $"0x{status:X8} {n}" : $"0x{status:X8}";
}

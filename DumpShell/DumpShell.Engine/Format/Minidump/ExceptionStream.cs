namespace DumpShell.Format.Minidump;

/// <summary>MINIDUMP_EXCEPTION_STREAM: the exception record (EXCEPTION_RECORD64 layout) and its thread's context.</summary>
public sealed record ExceptionRecordStream(
    uint ThreadId,
    uint ExceptionCode,
    uint ExceptionFlags,
    ulong NestedRecordAddress,
    ulong ExceptionAddress,
    uint NumberParameters,
    IReadOnlyList<ulong> Parameters,
    uint ContextSize,
    uint ContextRva);

public sealed partial class MinidumpFile
{
    private const int ExceptionStreamSize = 168;
    /// <summary>EXCEPTION_MAXIMUM_PARAMETERS.</summary>
    public const int MaxExceptionParameters = 15;

    private ExceptionRecordStream? _exception;
    private bool _exceptionRead;

    /// <summary>The Exception stream, or null when the dump has none (a manual dump).</summary>
    public ExceptionRecordStream? Exception => Once(ref _exception, ref _exceptionRead, ReadException);

    private ExceptionRecordStream? ReadException()
    {
        const MinidumpStreamType stream = MinidumpStreamType.Exception;
        if (!TryGetStream(stream, out var data)) return null;
        if (data.Length < ExceptionStreamSize)
        {
            Report("ExceptionTruncated", $"The Exception stream has {data.Length} of its {ExceptionStreamSize} bytes.", stream);
            if (data.Length < 32) return null;
        }
        var r = new ByteReader(data);
        uint declared = r.U32(32);
        if (declared > MaxExceptionParameters)
            Report("ExceptionParameterCountInvalid", $"The exception record claims {declared} parameters; at most {MaxExceptionParameters} exist.", stream);
        int count = (int)Math.Min(declared, MaxExceptionParameters);
        var parameters = new ulong[count];
        for (int i = 0; i < count; i++) parameters[i] = r.U64(40 + 8 * i);
        return new ExceptionRecordStream(r.U32(0), r.U32(8), r.U32(12), r.U64(16), r.U64(24), declared, parameters,
            r.U32(160), r.U32(164));
    }
}

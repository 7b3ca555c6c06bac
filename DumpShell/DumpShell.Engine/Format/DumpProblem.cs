namespace DumpShell.Format;

/// <summary>
/// Something in the file that could not be read as the format says. Reading goes on past it; the
/// problem names the stream it belongs to so a caller reports it with the data it affects.
/// </summary>
/// <param name="ErrorId">Stable identifier, e.g. "ThreadListTruncated"; cmdlets use it as the ErrorRecord id.</param>
/// <param name="Message">One sentence a person can act on.</param>
/// <param name="Stream">The stream the problem is in, or null for the header and directory.</param>
public sealed record DumpProblem(string ErrorId, string Message, uint? Stream);

/// <summary>A file that cannot be read as a dump at all (not a dump, or its header or directory unreadable).</summary>
public sealed class DumpFormatException : Exception
{
    public string ErrorId { get; }
    public string? Path { get; }

    public DumpFormatException(string errorId, string message, string? path = null) : base(message)
    {
        ErrorId = errorId;
        Path = path;
    }
}

using DumpShell.Managed;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// What the .NET detectors share: the dump's ClrMD session (none without a CLR: a dump of a native process costs one
/// look at its module list and makes no ClrMD object), the data-gap finding when the DAC cannot be had, and which
/// managed exception is the dump's failure.
/// </summary>
internal static class ManagedSpace
{
    /// <summary>
    /// The dump's session when its runtime can be read; null otherwise. <paramref name="notEvaluated"/> is the pattern's
    /// one Info data gap when a CLR is present but its DAC cannot be had here (null without a CLR: no finding at all).
    /// </summary>
    public static ClrSession? Ready(Dump dump, DetectorContext context, string pattern, out Finding? notEvaluated)
    {
        notEvaluated = null;
        var session = ClrSession.For(dump);
        switch (session.Status)
        {
            case ManagedStatus.NoClr:
                return null;
            case ManagedStatus.DacNotAvailable:
                var module = session.RuntimeModule!;
                var failure = session.Failure!;
                notEvaluated = context.NotEvaluated(pattern, "dac",
                    $"{module.Module.Name} {module.DisplayVersion} loaded, DAC {DacLocator.DacFileName(module.Platform)} ({Key(module.Module)}) not available — {failure.Message}",
                    failure.Remedy);
                return null;
            default:
                return session;
        }
    }

    /// <summary>The DAC's lookup key: the runtime module's build id (ELF) or TimeDateStamp/SizeOfImage (PE).</summary>
    public static string Key(DumpModule m) =>
        m.BuildId is { Length: > 0 } id && m.TimeDateStamp == 0 ? $"build id {id.ToLowerInvariant()}" : $"key {m.TimeDateStamp:X8}/{m.Size:X}";

    /// <summary>
    /// The managed exception that is the dump's failure: the current exception of the stored exception's thread; or,
    /// when the dump stores no exception (a createdump core written from the runtime's unhandled-exception path) or a
    /// CLR exception code, the current exception of the only live thread that has one. Null when that is not clear.
    /// </summary>
    public static ManagedException? Failure(Dump dump, IReadOnlyList<ManagedException> current)
    {
        var live = current.Where(e => e.ThreadId is not null && e.Depth == 0).ToArray();
        if (live.Length == 0) return null;
        if (dump.Exception is { } stored && stored.ThreadId != 0 && live.FirstOrDefault(e => e.ThreadId == stored.ThreadId) is { } onStored)
            return onStored;
        bool clrCode = dump.Exception is { Code: 0xE0434352 or 0xE0434F4D };
        bool abort = dump.Platform != "Windows" && dump.Exception is { Code: 6 }; // SIGABRT: the runtime's abort after an unhandled exception
        return (dump.Exception is null || clrCode || abort) && live.Length == 1 ? live[0] : null;
    }

    /// <summary>The method that threw: the top of the exception's own trace, else of its thread's managed stack.</summary>
    public static string? ThrowingMethod(ManagedException e) => e.StackTrace.FirstOrDefault();

    /// <summary>The dump's current managed exceptions, read once per session.</summary>
    public static IReadOnlyList<ManagedException> CurrentExceptions(ClrSession session) => session.CachedCurrentExceptions();
}

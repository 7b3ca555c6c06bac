using System.Globalization;
using DumpShell.Model;
using DumpShell.Model.Names;
using DumpShell.Symbols.Pe;

namespace DumpShell.Analysis;

/// <summary>
/// What the detectors of one run over one dump share: the options, facts several detectors need (the dump's trigger
/// from its comments, the main thread), and the helpers that make findings follow the catalogue's conventions.
/// </summary>
public sealed partial class DetectorContext : IDisposable
{
    private readonly Lazy<CommentTrigger> _trigger;
    private readonly Lazy<(DumpThread? Thread, string How)> _mainThread;

    /// <param name="symbols">
    /// The dump's symbols (the caller keeps and disposes them); null makes the context load its own from
    /// <see cref="PatternOptions.SymbolPath"/> on first use and dispose them with the context.
    /// </param>
    public DetectorContext(Dump dump, PatternOptions options, Symbols.DumpSymbols? symbols = null)
    {
        Dump = dump ?? throw new ArgumentNullException(nameof(dump));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _trigger = new(() => CommentTrigger.Classify(dump.File?.Comments ?? []));
        _mainThread = new(FindMainThread);
        _givenSymbols = symbols;
        _symbols = new(CreateSymbols);
    }

    public Dump Dump { get; }
    public PatternOptions Options { get; }

    /// <summary>Why the dump was written, as far as its comment streams say (Embedded Comments).</summary>
    public CommentTrigger Trigger => _trigger.Value;

    /// <summary>True when the comment says the dump was written on a first-chance exception: exception findings drop one level.</summary>
    public bool FirstChance => Trigger.Trigger == DumpTrigger.FirstChanceException;

    public bool IsWindows => Dump.Platform == "Windows";

    /// <summary>
    /// The thread that ran the executable's entry point: ThreadInfoList StartAddress equal to the entry point (from the
    /// loader list or the image header in memory), else the thread created within 1 s of the process, else the first thread.
    /// </summary>
    public DumpThread? MainThread => _mainThread.Value.Thread;

    /// <summary>How <see cref="MainThread"/> was identified ("entry point", "creation time", "first thread (assumed)").</summary>
    public string MainThreadHow => _mainThread.Value.How;

    /// <summary>The severity of an exception-based finding: one level lower when the dump was written on a first-chance exception.</summary>
    public Severity ExceptionSeverity(Severity severity) =>
        FirstChance && severity > Severity.Info ? severity - 1 : severity;

    /// <summary>A finding of <paramref name="pattern"/> with the catalogue's category and the signature "&lt;Pattern&gt;|&lt;key&gt;".</summary>
    public Finding Create(string pattern, Severity severity, string evidence, string key,
        uint? threadId = null, string? module = null, ulong? address = null, string? recommendation = null) => new()
    {
        Pattern = pattern,
        Category = PatternCatalog.CategoryOf(pattern),
        Severity = severity,
        ThreadId = threadId,
        Module = module,
        Address = address,
        Evidence = evidence,
        Recommendation = recommendation,
        DumpPath = Dump.Path,
        Signature = $"{pattern}|{key}",
        PointerSize = Dump.PointerSize,
    };

    /// <summary>
    /// The one data-gap finding of a pattern: Info, evidence "Not evaluated: &lt;missing&gt;", signature
    /// "&lt;Pattern&gt;|not-evaluated|&lt;missing item&gt;".
    /// </summary>
    public Finding NotEvaluated(string pattern, string missingItem, string detail, string? recommendation = null) =>
        Create(pattern, Severity.Info, $"{Finding.NotEvaluatedPrefix} {detail}", $"not-evaluated|{missingItem}", recommendation: recommendation);

    /// <summary>"module+0xRVA" for an address in a module, else the address in hex.</summary>
    public string Where(ulong address) => Dump.Describe(address) ?? Hex.Address(address, Dump.PointerSize);

    /// <summary>The signature key of a code location: lower-case "module+0xrva", or "no-module".</summary>
    public string LocationKey(ulong address) =>
        Dump.ModuleAt(address) is { } m ? $"{m.Name.ToLowerInvariant()}+0x{address - m.BaseAddress:x}" : "no-module";

    /// <summary>A size in bytes as people read it: "512 B", "10.2 MB", "3.1 GB" (binary units).</summary>
    public static string Bytes(ulong bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KB"),
        < 1024UL * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.#} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.##} GB"),
    };

    /// <summary>A thread as evidence names it: "0x10c (spinner)" or "0x10c".</summary>
    public static string ThreadLabel(DumpThread t) => string.IsNullOrEmpty(t.Name) ? $"0x{t.Id:x}" : $"0x{t.Id:x} ({t.Name})";

    /// <summary>A duration as "3d 04:12:05", "0:02:05" or "2.08 s".</summary>
    public static string Duration(TimeSpan t) =>
        t.TotalDays >= 1 ? t.ToString(@"d\d\ hh\:mm\:ss", CultureInfo.InvariantCulture)
        : t.TotalMinutes >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.##} s");

    private (DumpThread?, string) FindMainThread()
    {
        var threads = Dump.Threads;
        if (threads.Count == 0) return (null, "no threads");
        if (EntryPoint() is { } entry && threads.FirstOrDefault(t => t.StartAddress == entry) is { } byEntry)
            return (byEntry, "entry point");
        if (Dump.File?.MiscInfo?.ProcessCreateTime is { } created and > 0)
        {
            var processCreate = DateTimeOffset.FromUnixTimeSeconds(created);
            var early = threads.Where(t => t.CreateTime is { } c && (c - processCreate).Duration() <= TimeSpan.FromSeconds(1))
                .OrderBy(t => t.CreateTime).FirstOrDefault();
            if (early is not null) return (early, "creation time");
        }
        return (threads[0], "first thread (assumed)");
    }

    /// <summary>The main image's entry point: from the loader list, or from the PE header when the dump holds it.</summary>
    private ulong? EntryPoint()
    {
        var env = Dump.ProcessEnvironment;
        ulong? imageBase = env?.ImageBaseAddress ?? (Dump.Modules.Count > 0 ? Dump.Modules[0].BaseAddress : null);
        if (imageBase is not { } b || b == 0) return null;
        if (env?.LoaderModules?.FirstOrDefault(m => m.DllBase == b) is { EntryPoint: not 0 } loaded) return loaded.EntryPoint;
        var module = Dump.ModuleAt(b);
        if (module is null || !Dump.Memory.Contains(b)) return null;
        var image = PeImage.TryParse(new DumpImageBytes(Dump.Memory, b, module.Size));
        return image is { AddressOfEntryPoint: not 0 } ? b + image.AddressOfEntryPoint : null;
    }
}

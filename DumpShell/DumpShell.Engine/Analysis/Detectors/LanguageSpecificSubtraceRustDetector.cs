using System.Text;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Language-Specific Subtrace (Rust): the contiguous block of Rust panic/abort frames on a thread and the first frame
/// below it outside std/core/alloc (the panic site). Error when the stored exception is 0xC0000409/7 or a C++ exception
/// thrown as rust_panic; Warning for a panic on another thread; Info when only std::rt::lang_start shows a Rust program.
/// Without names: Info "Rust runtime suspected" when a module's captured memory holds the path of Rust's panicking.rs.
/// </summary>
internal sealed class LanguageSpecificSubtraceRustDetector : IDetector
{
    private static readonly string[] PanicFrames =
    [
        "std::panicking::", "core::panicking::", "rust_begin_unwind", "rust_panic", "__rust_start_panic", "panic_abort::",
        "core::result::unwrap_failed", "core::option::unwrap_failed", "core::option::expect_failed", "std::sys::", "std::process::abort",
        "__rust_", "rust_panic_with_hook", "begin_panic",
    ];

    public string Pattern => "Language-Specific Subtrace (Rust)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        bool rustCode = e is not null && (e.Code == 0xC0000409 && e.Parameters.Length > 0 && e.Parameters[0] == 7
                                          || e.Code == 0xE06D7363 && CppThrowInfo.Decode(dump, e)?.TypeName == "rust_panic");
        bool anyNames = false, langStart = false;
        DumpThread? langStartThread = null;
        foreach (var t in dump.Threads)
        {
            var frames = context.LiveStack(t);
            if (frames.Any(f => f.Function is not null)) anyNames = true;
            if (frames.Any(f => f.Function?.Contains("std::rt::lang_start", StringComparison.Ordinal) == true)) { langStart = true; langStartThread ??= t; }
            int start = -1, end = -1;
            for (int i = 0; i < frames.Count; i++)
            {
                bool panic = frames[i].Function is { } fn && PanicFrames.Any(p => fn.Contains(p, StringComparison.Ordinal));
                if (panic) { if (start < 0) start = i; end = i; }
                else if (start >= 0) break;
            }
            if (start < 0) continue;
            var site = frames.Skip(end + 1).FirstOrDefault(f => f.Function is { } fn && !fn.StartsWith("std::", StringComparison.Ordinal)
                && !fn.StartsWith("core::", StringComparison.Ordinal) && !fn.StartsWith("alloc::", StringComparison.Ordinal));
            bool stored = context.IsExceptionThread(t) && rustCode;
            string block = string.Join(" <- ", frames.Skip(start).Take(end - start + 1).Take(6).Select(f => f.Function));
            yield return context.Create(Pattern, stored ? context.ExceptionSeverity(Severity.Error) : Severity.Warning,
                $"Rust panic on {DetectorContext.ThreadLabel(t)}: {block}" + (site is not null ? $" <- {context.FrameText(site)}" + (site.SourceFile is { } sf ? $" ({sf}:{site.Line})" : "") : "")
                + (stored ? $"; exception 0x{e!.Code:X8}" + (e.Code == 0xC0000409 ? "/7" : " rust_panic") : ""),
                $"panic|{(site is not null ? context.FrameKey(site) : "no-site")}", t.Id,
                site is not null ? dump.ModuleAt(site.InstructionPointer)?.Name : null, site?.InstructionPointer);
            yield break;
        }
        if (langStart)
        {
            yield return context.Create(Pattern, Severity.Info, $"Rust program: std::rt::lang_start on {DetectorContext.ThreadLabel(langStartThread!)}; no panic frames", "rust-program");
            yield break;
        }
        if (!anyNames || rustCode)
        {
            var module = dump.Modules.FirstOrDefault(m => !DetectorContext.IsSystemModule(m) && HoldsPanickingPath(dump, m));
            if (module is not null)
                yield return context.Create(Pattern, Severity.Info,
                    $"Rust runtime suspected: {module.Name} holds the path of std's panicking.rs; frames are not named, so no panic block can be shown"
                    + (rustCode ? $" (exception 0x{e!.Code:X8})" : ""), $"rust-suspected|{module.Name.ToLowerInvariant()}", null, module.Name, module.BaseAddress);
        }
    }

    private static readonly byte[][] Needles = [Encoding.ASCII.GetBytes("src\\panicking.rs"), Encoding.ASCII.GetBytes("src/panicking.rs")];

    /// <summary>True when the module's captured bytes (at most 32 MB) contain Rust's panicking.rs path.</summary>
    private static bool HoldsPanickingPath(Dump dump, DumpModule module)
    {
        var buffer = new byte[1 << 20];
        ulong end = module.BaseAddress + Math.Min(module.Size, 32u << 20);
        foreach (var (start, size) in dump.Memory.Ranges)
        {
            ulong from = Math.Max(start, module.BaseAddress), to = Math.Min(start + size, end);
            for (ulong at = from; at < to; at += (ulong)buffer.Length - 32)
            {
                int got = dump.Memory.Read(at, buffer.AsSpan(0, (int)Math.Min((ulong)buffer.Length, to - at)));
                if (got <= 0) break;
                foreach (var n in Needles)
                    if (buffer.AsSpan(0, got).IndexOf(n) >= 0) return true;
                if ((ulong)got < (ulong)buffer.Length) break;
            }
        }
        return false;
    }
}

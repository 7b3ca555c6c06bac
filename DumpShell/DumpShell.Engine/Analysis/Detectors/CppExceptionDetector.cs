using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// C++ Exception: the stored exception is an MSVC throw (0xE06D7363 with a valid magic). Names the thrown type from
/// the ThrowInfo chain (dump memory, and for read-only image data the dump lacks, the module's image file from the
/// symbol path) and, for std::exception types, the message. The thrower is the first exception-stack frame below
/// _CxxThrowException (or, when the runtime's frames are unnamed, the first frame outside the OS and runtime modules).
/// Error for a stored exception (Warning on a first-chance dump). rust_panic is left to Language-Specific Subtrace (Rust).
/// </summary>
internal sealed class CppExceptionDetector : IDetector
{
    public string Pattern => "C++ Exception";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || e.Code != ExceptionCodes.CppException) yield break;
        var info = CppThrowInfo.Decode(dump, e, (address, buffer) => ReadOnlyImage(dump, context, address, buffer));
        if (info is null) yield break; // not a valid magic: not an MSVC throw
        if (info.TypeName == "rust_panic") yield break;

        // The module that threw: the image base parameter (x64), else the module holding ThrowInfo.
        var thrower = info.ImageBase != 0 ? dump.ModuleAt(info.ImageBase) : dump.ModuleAt(info.ThrowInfo);
        var frames = context.ExceptionStack;
        int throwIndex = -1;
        for (int i = 0; i < frames.Count; i++)
            if (StackNames.Matches(frames[i].Function, ["_CxxThrowException", "CxxThrowException"])) { throwIndex = i; break; }
        var throwFrame = throwIndex >= 0 && throwIndex + 1 < frames.Count ? frames[throwIndex + 1] : context.FramesThatMatter(frames).FirstOrDefault();
        string type = info.TypeName ?? info.Problem ?? "type not decoded";
        string evidence = info.TypeName is null
            ? $"C++ exception, {type}"
            : $"C++ exception {info.TypeName}" + (info.Message is { } m ? $" \"{Text.Clip(m, 300)}\"" : "");
        if (info.CatchableTypes.Count > 1) evidence += $" (catchable as {string.Join(", ", info.CatchableTypes)})";
        evidence += throwFrame is not null
            ? $" thrown by {context.FrameText(throwFrame)}"
            : $" thrown by {thrower?.Name ?? "an unknown module"} (no thrower frame on the exception stack)";
        evidence += $"; raised at {context.Where(e.Address)} on thread 0x{e.ThreadId:x}";
        string where = throwFrame is not null ? context.FrameKey(throwFrame) : thrower?.Name.ToLowerInvariant() ?? "no-module";
        string key = $"{(info.TypeName ?? "unknown-type").ToLowerInvariant()}|{where}";
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error), evidence, key, e.ThreadId,
            thrower?.Name ?? e.Module, e.Address,
            recommendation: "Find the throw site (the frame below _CxxThrowException) and why nothing caught the exception.");
    }

    /// <summary>Bytes of a module's read-only sections from its image (never writable sections: their file bytes are stale).</summary>
    private static int ReadOnlyImage(Dump dump, DetectorContext context, ulong address, byte[] buffer)
    {
        if (dump.ModuleAt(address) is not { } module) return 0;
        var image = context.Symbols.Images.Get(module);
        if (image.Pe?.SectionAt((uint)(address - module.BaseAddress)) is not { } section || (section.Characteristics & 0x80000000u) != 0) return 0;
        return image.Read(address, buffer);
    }
}

using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// C++ Exception: the stored exception is an MSVC throw (0xE06D7363 with a valid magic). Names the thrown type from
/// the ThrowInfo chain and, for std::exception types, the message. Error for a stored exception (Warning on a
/// first-chance dump). rust_panic is left to Language-Specific Subtrace (Rust).
/// </summary>
internal sealed class CppExceptionDetector : IDetector
{
    public string Pattern => "C++ Exception";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || e.Code != ExceptionCodes.CppException) yield break;
        var info = CppThrowInfo.Decode(dump, e);
        if (info is null) yield break; // not a valid magic: not an MSVC throw
        if (info.TypeName == "rust_panic") yield break;

        // The module that threw: the image base parameter (x64), else the module holding ThrowInfo.
        var thrower = info.ImageBase != 0 ? dump.ModuleAt(info.ImageBase) : dump.ModuleAt(info.ThrowInfo);
        string type = info.TypeName ?? info.Problem ?? "type not decoded";
        string evidence = info.TypeName is null
            ? $"C++ exception, {type}"
            : $"C++ exception {info.TypeName}" + (info.Message is { } m ? $" \"{Text.Clip(m, 300)}\"" : "");
        if (info.CatchableTypes.Count > 1) evidence += $" (catchable as {string.Join(", ", info.CatchableTypes)})";
        evidence += $" thrown by {thrower?.Name ?? "an unknown module"}; raised at {context.Where(e.Address)} on thread 0x{e.ThreadId:x}; thrower frame needs stack traces";
        string key = $"{(info.TypeName ?? "unknown-type").ToLowerInvariant()}|{thrower?.Name.ToLowerInvariant() ?? "no-module"}";
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error), evidence, key, e.ThreadId,
            thrower?.Name ?? e.Module, e.Address,
            recommendation: "Find the throw site (the frame below _CxxThrowException) and why nothing caught the exception.");
    }
}

using System.Collections.Concurrent;
using DumpShell.Machine.Unwind;
using DumpShell.Model;

namespace DumpShell.Symbols;

/// <summary>
/// The symbols of one dump under one symbol path: module images (from dump memory, else image files on
/// the path), PDBs, Breakpad .sym files and exports, each loaded once, on first use.
/// </summary>
public sealed class DumpSymbols : IDisposable
{
    private readonly Dump _dump;
    private readonly ConcurrentDictionary<ulong, ModuleSymbols> _modules = new();

    public SymbolStore? Store { get; }
    public ImageProvider Images { get; }

    /// <param name="store">Where to look for images and symbol files; null uses dump memory and exports only.</param>
    public DumpSymbols(Dump dump, SymbolStore? store)
    {
        _dump = dump;
        Store = store;
        Images = new ImageProvider(dump, store is null ? null : FindImageFile);
    }

    private string? FindImageFile(DumpModule module) =>
        module.TimeDateStamp == 0 || module.Size == 0 ? null : Store!.FindImage(module.Name, module.TimeDateStamp, module.Size).Path;

    /// <summary>
    /// Options for the stack walker that share this object's images and unwind x86 frames with the modules' frame data
    /// (PDB FRAMEDATA/FPO, else Breakpad STACK WIN; see <see cref="X86FrameData"/>).
    /// </summary>
    public StackWalkOptions WalkOptions(int maxFrames = 256) => new()
    {
        Images = Images,
        MaxFrames = maxFrames,
        X86FrameData = _x86FrameData ??= new X86FrameData(m => For(m).Pdb, m => For(m).BreakpadSymbols),
    };

    private X86FrameData? _x86FrameData;

    public ModuleSymbols For(DumpModule module) =>
        _modules.GetOrAdd(module.BaseAddress, _ => new ModuleSymbols(module, Images.Get(module), Store));

    /// <summary>The function (or module offset) at an address; null outside every module.</summary>
    public ResolvedSymbol? Resolve(ulong address) => _dump.ModuleAt(address) is { } m ? For(m).Resolve(address) : null;

    /// <summary>
    /// The function imported through the import address table slot at <paramref name="slotAddress"/>, as WinDbg names
    /// it: "kernel32!HeapFree" (the loaded module's name when the DLL is loaded, else the name the import descriptor
    /// gives; "#n" for an import by ordinal). Null when the address is no import slot of a module whose import
    /// directory is readable (from dump memory or the image file).
    /// </summary>
    public string? ImportedFunctionAt(ulong slotAddress)
    {
        if (_dump.ModuleAt(slotAddress) is not { } m || Images.Get(m).ImportAt(slotAddress) is not { } import) return null;
        if (import.FunctionText is not { } function) return null;
        string dll = import.DllName;
        var loaded = _dump.Modules.FirstOrDefault(x => string.Equals(x.Name, dll, StringComparison.OrdinalIgnoreCase));
        return $"{ModuleNames.DebuggerName(loaded?.Name ?? dll)}!{function}";
    }

    /// <summary>
    /// Names each frame's function and source line. A return address is looked up one byte back, so the
    /// name is of the call instruction, not of whatever follows it (a call may be a function's last instruction).
    /// </summary>
    public void Annotate(IReadOnlyList<StackFrame> frames)
    {
        foreach (var frame in frames)
        {
            ulong lookup = frame.Frame > 0 && frame.InstructionPointer > 0 ? frame.InstructionPointer - 1 : frame.InstructionPointer;
            if (Resolve(lookup) is not { } symbol)
            {
                frame.Symbol = Hex.Address(frame.InstructionPointer, frame.PointerSize);
                continue;
            }
            var shown = symbol with { Offset = symbol.Offset + (frame.InstructionPointer - lookup) };
            frame.Module = symbol.Module.Name;
            frame.Function = shown.Function;
            frame.Offset = shown.Offset;
            frame.Symbol = shown.Text;
            frame.SourceFile = shown.SourceFile;
            frame.Line = shown.Line;
        }
    }

    public void Dispose()
    {
        foreach (var m in _modules.Values) m.Dispose();
        Images.Dispose();
    }
}

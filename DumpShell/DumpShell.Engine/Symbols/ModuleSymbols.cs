using DumpShell.Machine.Unwind;
using DumpShell.Model;
using DumpShell.Symbols.Breakpad;
using DumpShell.Symbols.Pdb;
using DumpShell.Symbols.Pe;

namespace DumpShell.Symbols;

/// <summary>Where a module's names come from, best first.</summary>
public enum SymbolSource
{
    None,
    Exports,
    BreakpadSym,
    Pdb,
}

/// <summary>A function found for an address: its name, where it starts, and the source line when known.</summary>
public sealed record ResolvedSymbol(
    DumpModule Module, string? Function, ulong FunctionStart, ulong Offset, string? SourceFile, int? Line, SymbolSource Source)
{
    /// <summary>WinDbg's module name: the file name without its extension ("ntdll" for ntdll.dll).</summary>
    public string ModuleName => ModuleNames.DebuggerName(Module.Name);

    /// <summary>"module!function+0x1a", or "module+0x1234" without a function.</summary>
    public string Text => Function is null
        ? $"{ModuleName}+0x{Offset:x}"
        : Offset == 0 ? $"{ModuleName}!{Function}" : $"{ModuleName}!{Function}+0x{Offset:x}";
}

/// <summary>
/// Where a function's code lies: [<see cref="Start"/>, <see cref="End"/>) and which source says so ("Pdb",
/// "BreakpadSym", "FunctionTable", "PdbPublic" ...). <see cref="IsEstimate"/>: the end is a guess (a public
/// symbol's size runs to the next public symbol).
/// </summary>
public sealed record FunctionRange(ulong Start, ulong End, string? Name, string Source, bool IsEstimate = false)
{
    public ulong Size => End - Start;
    public bool Contains(ulong address) => address >= Start && address < End;
}

public static class ModuleNames
{
    /// <summary>The name WinDbg gives a module: its file name without the extension.</summary>
    public static string DebuggerName(string fileName)
    {
        int dot = fileName.LastIndexOf('.');
        return dot > 0 ? fileName[..dot] : fileName;
    }
}

/// <summary>
/// The symbols of one module, loaded on first use: its PDB (matched by GUID and age) or Breakpad .sym
/// from the symbol path, else the image's exports.
/// </summary>
public sealed class ModuleSymbols : IDisposable
{
    private readonly PdbFile? _pdb;
    private readonly SymbolFile? _sym;
    private readonly ExportTable? _exports;

    public DumpModule Module { get; }
    public SymbolSource Source { get; }
    /// <summary>The symbol file used, when one was found.</summary>
    public string? SymbolFile { get; }
    /// <summary>What was looked for and what was found, for a person wondering why names are missing.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>The module's matched PDB, when one was loaded (its FRAMEDATA/FPO records unwind x86 frames).</summary>
    internal PdbFile? Pdb => _pdb;

    /// <summary>The module's Breakpad .sym file, when one was loaded instead of a PDB (its STACK WIN records unwind x86 frames).</summary>
    internal SymbolFile? BreakpadSymbols => _sym;

    internal ModuleSymbols(DumpModule module, ModuleImage image, SymbolStore? store)
    {
        Module = module;
        var notes = new List<string>();
        var codeView = module.PdbGuid is { } g && module.PdbName is { } n
            ? new Format.Minidump.CodeViewRecord("RSDS", n, g, null, module.PdbAge ?? 0, null)
            : image.Pe is { } pe ? DebugDirectory.TryReadCodeView(pe) : null;

        if (store is not null && codeView is { Guid: { } guid, PdbName: { } pdbPath })
        {
            string pdbName = SymbolKey.FileNameFromPath(pdbPath);
            (_pdb, SymbolFile) = LoadPdb(store, pdbName, guid, codeView.Age, notes);
            if (_pdb is null)
                (_sym, SymbolFile) = LoadBreakpad(store, pdbName, guid, codeView.Age, notes);
        }
        else if (codeView is null)
        {
            notes.Add("No CodeView record (PDB name, GUID, age) in the module list or the image.");
        }
        _exports = _pdb is null && _sym is null ? image.Exports : null;
        Source = _pdb is not null ? SymbolSource.Pdb : _sym is not null ? SymbolSource.BreakpadSym
            : _exports is { Exports.Count: > 0 } ? SymbolSource.Exports : SymbolSource.None;
        Notes = notes;
    }

    private static (PdbFile?, string?) LoadPdb(SymbolStore store, string name, Guid guid, uint age, List<string> notes)
    {
        var found = store.FindPdb(name, guid, age);
        if (found.Path is null)
        {
            notes.Add($"{name} ({guid:N}{age:X}) not found: {found.Message ?? found.Status.ToString()}");
            return (null, null);
        }
        try
        {
            var pdb = PdbFile.Open(found.Path);
            if (pdb.Matches(guid, age)) return (pdb, found.Path);
            notes.Add($"{found.Path} does not match: it is {pdb.Guid:N}{pdb.Age:X}; a mismatched PDB is never used.");
            pdb.Dispose();
        }
        catch (Exception e) when (e is PdbFormatException or IOException or UnauthorizedAccessException)
        {
            notes.Add($"{found.Path} is not a readable PDB: {e.Message}");
        }
        return (null, null);
    }

    private static (SymbolFile?, string?) LoadBreakpad(SymbolStore store, string name, Guid guid, uint age, List<string> notes)
    {
        string debugId = $"{guid:N}{age:X}".ToUpperInvariant();
        var found = store.FindBreakpad(name, debugId);
        if (found.Path is null) return (null, null);
        try
        {
            var sym = Breakpad.SymbolFile.Load(found.Path);
            if (sym.Module is null || string.Equals(sym.Module.DebugId, debugId, StringComparison.OrdinalIgnoreCase))
                return (sym, found.Path);
            notes.Add($"{found.Path} is for {sym.Module.DebugId}, not {debugId}; not used.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            notes.Add($"{found.Path} is not a readable .sym file: {e.Message}");
        }
        return (null, null);
    }

    /// <summary>The function containing <paramref name="address"/>; the module-relative offset when no function is known.</summary>
    public ResolvedSymbol Resolve(ulong address)
    {
        ulong rva64 = address - Module.BaseAddress;
        uint rva = (uint)Math.Min(rva64, uint.MaxValue);
        if (_pdb is not null && _pdb.FindFunction(rva) is { } f)
        {
            var line = _pdb.FindLine(rva);
            return new(Module, f.Name, Module.BaseAddress + f.Rva, rva - f.Rva, line?.File, line is null ? null : (int)line.Line, SymbolSource.Pdb);
        }
        if (_sym is not null && _sym.FindFunction(rva) is { } s)
        {
            var line = _sym.FindLine(rva);
            return new(Module, s.Name, Module.BaseAddress + s.Address, rva - s.Address, line?.File,
                line is null ? null : (int)line.Line, SymbolSource.BreakpadSym);
        }
        if (_exports?.NearestAtOrBelow(rva) is { Name: { } exportName } e)
            return new(Module, exportName, Module.BaseAddress + e.Rva, rva - e.Rva, null, null, SymbolSource.Exports);
        return new(Module, null, Module.BaseAddress, rva64, null, null, SymbolSource.None);
    }

    /// <summary>
    /// The extent of the function containing <paramref name="address"/> as the symbol file records it: a PDB procedure
    /// or a Breakpad FUNC (exact), else a PDB or Breakpad public symbol (<see cref="FunctionRange.IsEstimate"/>); null
    /// when the symbols do not know a function there (exports have no sizes).
    /// </summary>
    public FunctionRange? FindFunctionRange(ulong address)
    {
        if (address < Module.BaseAddress || address - Module.BaseAddress > uint.MaxValue) return null;
        uint rva = (uint)(address - Module.BaseAddress);
        if (_pdb is not null && _pdb.FindFunction(rva) is { Size: > 0 } f)
            return new(Module.BaseAddress + f.Rva, Module.BaseAddress + f.Rva + f.Size, f.Name, f.IsPublic ? "PdbPublic" : "Pdb", f.IsPublic);
        if (_sym is not null && _sym.FindFunction(rva) is { Size: > 0 } s && s.Address <= rva && rva - s.Address < s.Size)
            return new(Module.BaseAddress + s.Address, Module.BaseAddress + s.Address + s.Size!.Value, s.Name,
                s.IsPublic ? "BreakpadPublic" : "BreakpadSym", s.IsPublic);
        return null;
    }

    public void Dispose() => _pdb?.Dispose();
}

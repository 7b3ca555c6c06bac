using System.Text;

namespace DumpShell.Format.Minidump;

/// <summary>VS_FIXEDFILEINFO as stored in MINIDUMP_MODULE.VersionInfo (dwSignature 0xFEEF04BD when present).</summary>
public sealed record FixedFileInfo(
    uint FileVersionMS, uint FileVersionLS, uint ProductVersionMS, uint ProductVersionLS,
    uint FileFlagsMask, uint FileFlags, uint FileOS, uint FileType, uint FileSubtype, ulong FileDate)
{
    public Version FileVersion => new((int)(FileVersionMS >> 16), (int)(FileVersionMS & 0xFFFF),
        (int)(FileVersionLS >> 16), (int)(FileVersionLS & 0xFFFF));
    public Version ProductVersion => new((int)(ProductVersionMS >> 16), (int)(ProductVersionMS & 0xFFFF),
        (int)(ProductVersionLS >> 16), (int)(ProductVersionLS & 0xFFFF));
}

/// <summary>A CodeView debug record: RSDS (PDB 7: GUID + age), NB10 (PDB 2: signature + age) or an ELF build id.</summary>
public sealed record CodeViewRecord(string Format, string? PdbName, Guid? Guid, uint? Signature, uint Age, byte[]? BuildId);

/// <summary>MINIDUMP_MODULE, with its name and CodeView record resolved.</summary>
public sealed record ModuleRecord(
    int Index,
    ulong BaseOfImage,
    uint SizeOfImage,
    uint CheckSum,
    uint TimeDateStamp,
    string? Name,
    FixedFileInfo? Version,
    CodeViewRecord? CodeView);

/// <summary>MINIDUMP_UNLOADED_MODULE.</summary>
public sealed record UnloadedModuleRecord(ulong BaseOfImage, uint SizeOfImage, uint CheckSum, uint TimeDateStamp, string? Name);

public sealed partial class MinidumpFile
{
    private const int ModuleSize = 108;
    private const uint FixedFileInfoSignature = 0xFEEF04BD;
    private const uint CodeViewRsds = 0x53445352; // "RSDS"
    private const uint CodeViewNb10 = 0x3031424E; // "NB10"
    private const uint CodeViewElfBuildId = 0x4270454C; // "LEpB": Breakpad's record for ELF build ids
    private const uint MaxCodeViewBytes = 4096;

    private IReadOnlyList<ModuleRecord> _modules = [];
    private bool _modulesRead;
    private IReadOnlyList<ModuleRecord> _unixModules = [];
    private bool _unixModulesRead;
    private IReadOnlyList<UnloadedModuleRecord> _unloaded = [];
    private bool _unloadedRead;

    /// <summary>The ModuleList stream, in stream order.</summary>
    public IReadOnlyList<ModuleRecord> Modules => Once(ref _modules, ref _modulesRead, () => ReadModuleList(MinidumpStreamType.ModuleList));

    /// <summary>Wine's private 0xFFF0 stream: the Unix-side (ELF) modules, in MINIDUMP_MODULE_LIST form.</summary>
    public IReadOnlyList<ModuleRecord> WineUnixModules =>
        Once(ref _unixModules, ref _unixModulesRead, () => ReadModuleList(MinidumpStreamType.WineUnixModules));

    /// <summary>The UnloadedModuleList stream.</summary>
    public IReadOnlyList<UnloadedModuleRecord> UnloadedModules => Once(ref _unloaded, ref _unloadedRead, ReadUnloadedModules);

    private IReadOnlyList<ModuleRecord> ReadModuleList(MinidumpStreamType stream)
    {
        if (!TryGetStream(stream, out var data)) return [];
        var r = new ByteReader(data);
        uint declared = r.U32(0);
        int at = ListHeaderSize(data.Length, declared, ModuleSize);
        int count = FittingCount(stream, declared, data.Length - at, ModuleSize, "modules");
        var modules = new ModuleRecord[count];
        for (int i = 0; i < count; i++, at += ModuleSize)
        {
            string? name = ReadString(r.U32(at + 20));
            if (name is null)
                Report("ModuleNameUnreadable", $"Module {i} (base 0x{r.U64(at):X}) has no readable name.", stream);
            modules[i] = new ModuleRecord(i, r.U64(at), r.U32(at + 8), r.U32(at + 12), r.U32(at + 16), name,
                ReadFixedFileInfo(r, at + 24), ReadCodeView(r.U32(at + 76), r.U32(at + 80), stream));
        }
        return modules;
    }

    private static FixedFileInfo? ReadFixedFileInfo(ByteReader r, int at)
    {
        if (r.U32(at) != FixedFileInfoSignature) return null;
        return new FixedFileInfo(r.U32(at + 8), r.U32(at + 12), r.U32(at + 16), r.U32(at + 20), r.U32(at + 24),
            r.U32(at + 28), r.U32(at + 32), r.U32(at + 36), r.U32(at + 40), ((ulong)r.U32(at + 44) << 32) | r.U32(at + 48));
    }

    private CodeViewRecord? ReadCodeView(uint size, uint rva, MinidumpStreamType stream)
    {
        if (size == 0 || rva == 0) return null;
        if (size > MaxCodeViewBytes || !File.Contains(rva, size))
        {
            Report("CodeViewOutOfRange", $"A CodeView record of {size} bytes at 0x{rva:X} lies outside the file or is implausibly large.", stream);
            return null;
        }
        var r = new ByteReader(File.Slice(rva, size));
        static string? Name(ByteReader r, int at)
        {
            if (!r.Has(at, 0)) return null;
            var bytes = r.Bytes(at, r.Length - at);
            int nul = bytes.IndexOf((byte)0);
            return Encoding.UTF8.GetString(nul >= 0 ? bytes[..nul] : bytes);
        }
        return r.U32(0) switch
        {
            CodeViewRsds when size >= 24 => new CodeViewRecord("RSDS", Name(r, 24), r.Guid(4), null, r.U32(20), null),
            CodeViewNb10 when size >= 16 => new CodeViewRecord("NB10", Name(r, 16), null, r.U32(8), r.U32(12), null),
            CodeViewElfBuildId => new CodeViewRecord("ELF", null, null, null, 0, r.Bytes(4, r.Length - 4).ToArray()),
            _ => new CodeViewRecord("Unknown", null, null, null, 0, null),
        };
    }

    private IReadOnlyList<UnloadedModuleRecord> ReadUnloadedModules()
    {
        const MinidumpStreamType stream = MinidumpStreamType.UnloadedModuleList;
        const int minEntry = 24;
        if (!TryGetStream(stream, out var data)) return [];
        var r = new ByteReader(data);
        uint headerSize = r.U32(0), entrySize = r.U32(4), declared = r.U32(8);
        if (data.Length < 12 || headerSize < 12 || headerSize > data.Length || entrySize < minEntry)
        {
            Report("UnloadedModuleListCorrupt", $"The UnloadedModuleList header is unusable (header {headerSize}, entry {entrySize}).", stream);
            return [];
        }
        int count = FittingCount(stream, declared, data.Length - (int)headerSize, (int)entrySize, "modules");
        var list = new UnloadedModuleRecord[count];
        for (int i = 0; i < count; i++)
        {
            int at = (int)headerSize + i * (int)entrySize;
            uint nameRva = r.U32(at + 20);
            string? name = ReadString(nameRva);
            if (name is null && nameRva != 0)
                Report("UnloadedModuleNameUnreadable", $"Unloaded module {i} (base 0x{r.U64(at):X}) has a name that is not a readable MINIDUMP_STRING.", stream);
            list[i] = new UnloadedModuleRecord(r.U64(at), r.U32(at + 8), r.U32(at + 12), r.U32(at + 16), name);
        }
        return list;
    }
}

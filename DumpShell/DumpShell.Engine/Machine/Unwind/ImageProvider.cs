using System.Collections.Concurrent;
using DumpShell.Model;
using DumpShell.Symbols.Pe;

namespace DumpShell.Machine.Unwind;

/// <summary>
/// Two <see cref="IImageBytes"/> read as one: each run of bytes comes from <see cref="Primary"/> where it has them
/// and from <see cref="Fallback"/> where it does not. Used for a module whose image is partly in the dump (the
/// loaded, relocated and bound bytes, which win) and fully in an image file.
/// </summary>
public sealed class LayeredImageBytes(IImageBytes primary, IImageBytes fallback) : IImageBytes
{
    public IImageBytes Primary { get; } = primary;
    public IImageBytes Fallback { get; } = fallback;

    public int Read(uint rva, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            ulong at = (ulong)rva + (ulong)done;
            if (at > uint.MaxValue) break;
            var rest = buffer[done..];
            int p = Primary.Read((uint)at, rest);
            if (p > 0)
            {
                done += p;
                continue;
            }
            // The primary lacks this byte: take the fallback's run, then let the primary overwrite what it holds
            // further on (its bytes win wherever it has them).
            int f = Fallback.Read((uint)at, rest);
            if (f <= 0) break;
            for (int i = 1; i < f;)
            {
                ulong a = at + (ulong)i;
                if (a > uint.MaxValue) break;
                int q = Primary.Read((uint)a, rest[i..f]);
                i += q > 0 ? q : 1;
            }
            done += f;
        }
        return done;
    }
}

/// <summary>
/// What is known of one module's image: its PE headers, the bytes to read it by RVA (dump memory, an image file, or
/// both layered), and, read on demand, its x64 function table, unwind records and exports.
/// </summary>
public sealed class ModuleImage
{
    private readonly Lazy<FunctionTable?> _functions;
    private readonly Lazy<ExportTable?> _exports;
    private readonly Lazy<ImportTable?> _imports;
    private readonly ConcurrentDictionary<uint, UnwindInfo?> _unwind = new();

    internal ModuleImage(DumpModule module, PeImage? pe, IImageBytes bytes, string source, string? filePath, IReadOnlyList<string> notes)
    {
        Module = module;
        Pe = pe;
        Bytes = bytes;
        Source = source;
        FilePath = filePath;
        Notes = notes;
        _functions = new(() => Pe is null ? null : FunctionTable.TryRead(Pe));
        _exports = new(() => Pe is null ? null : ExportTable.TryRead(Pe));
        // The file's bytes are unbound: they name the imports of DLLs without a lookup table.
        _imports = new(() => Pe is null ? null : ImportTable.TryRead(Pe, (Bytes as LayeredImageBytes)?.Fallback));
    }

    public DumpModule Module { get; }
    /// <summary>The image's headers; null when neither the dump nor an image file has them.</summary>
    public PeImage? Pe { get; }
    /// <summary>The image by RVA: the dump's memory, the image file, or both (the dump's bytes win).</summary>
    public IImageBytes Bytes { get; }
    /// <summary>"dump" (headers and bytes from dump memory), "dump+file" (dump memory over the image file), or "dump (no headers)".</summary>
    public string Source { get; }
    /// <summary>The image file used, if any.</summary>
    public string? FilePath { get; }
    /// <summary>Why an image file was not used, and the like.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>The x64 function table (.pdata); null for PE32 images, without headers, or when unreadable.</summary>
    public FunctionTable? Functions => _functions.Value;
    public ExportTable? Exports => _exports.Value;
    /// <summary>The import directory: which DLL function each import address table slot is bound to.</summary>
    public ImportTable? Imports => _imports.Value;

    /// <summary>The import whose address table slot is at <paramref name="address"/> (a virtual address in this module); null when none is.</summary>
    public PeImport? ImportAt(ulong address) =>
        address >= Module.BaseAddress && address - Module.BaseAddress <= uint.MaxValue
            ? Imports?.FindSlot((uint)(address - Module.BaseAddress))
            : null;

    /// <summary>The UNWIND_INFO at <paramref name="rva"/>, read once.</summary>
    public UnwindInfo? GetUnwindInfo(uint rva) => _unwind.GetOrAdd(rva, r => UnwindInfo.TryRead(Bytes, r));

    /// <summary>
    /// Whether <paramref name="address"/> lies in an executable section (IMAGE_SCN_MEM_EXECUTE or IMAGE_SCN_CNT_CODE);
    /// null when the section table is not known.
    /// </summary>
    public bool? IsExecutable(ulong address)
    {
        if (Pe is null || address < Module.BaseAddress || address - Module.BaseAddress > uint.MaxValue) return Pe is null ? null : false;
        var section = Pe.SectionAt((uint)(address - Module.BaseAddress));
        return section is not null && (section.Characteristics & (0x20000000u | 0x20u)) != 0;
    }

    /// <summary>Reads the image at a virtual address inside the module; see <see cref="IImageBytes.Read"/>.</summary>
    public int Read(ulong address, Span<byte> buffer)
    {
        if (address < Module.BaseAddress || address - Module.BaseAddress > uint.MaxValue) return 0;
        return Bytes.Read((uint)(address - Module.BaseAddress), buffer);
    }
}

/// <summary>
/// Gives each module of a dump its <see cref="ModuleImage"/>: from the dump's memory when the dump holds the
/// headers, layered over an image file that <c>findImageFile</c> names (a symbol store lookup, a path, ...) when
/// there is one whose TimeDateStamp and SizeOfImage match the module. Images are made once per module and the
/// files stay open until <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// <para>What the test dumps hold (checked, not assumed):</para>
/// <list type="bullet">
/// <item>Wine's normal x64 dumps hold no module's headers, not even the executable's. Wine's dbghelp copies, for
/// every RUNTIME_FUNCTION of every module, only the UNWIND_INFO header and its codes (4 + 2 * CountOfCodes bytes:
/// not the chained entry or handler data that follow), plus 256 bytes around the exception address. The factory's
/// dumper adds the executable's .pdata/.xdata/.rdata. Without the headers nothing locates the function table, so
/// from the dump alone no frame unwinds by unwind data; the builtin DLLs (ntdll, kernelbase, kernel32, msvcrt) are
/// walked by the frame pointer and by scanning, and as the dump holds none of their code a scanned candidate in
/// them cannot be checked for a call before it (stale return addresses get through; they are labelled Scan).</item>
/// <item>With the executable's image file (the symbol store next to the dumps) its frames unwind by unwind data,
/// read from the dump where it is there and from the file for the rest (code, the headers). The symbol store holds
/// no image of Wine's builtin DLLs; given one (a test writes them out of the full-memory dump, where they are the
/// same images), every frame of every thread unwinds by unwind data down to RtlUserThreadStart.</item>
/// <item>Wine's full-memory dumps hold every image whole: no file is needed.</item>
/// <item>The Breakpad, Crashpad and lldb dumps hold no image headers and at most 256 bytes of code around the
/// faulting instruction: their walks are by frame pointer and scanning.</item>
/// </list>
/// </remarks>
public sealed class ImageProvider : IDisposable
{
    private readonly Dump _dump;
    private readonly Func<DumpModule, string?>? _findImageFile;
    private readonly ConcurrentDictionary<ulong, ModuleImage> _images = new();
    private readonly List<IDisposable> _open = [];
    private bool _disposed;

    public ImageProvider(Dump dump, Func<DumpModule, string?>? findImageFile = null)
    {
        _dump = dump;
        _findImageFile = findImageFile;
    }

    /// <summary>The image of <paramref name="module"/>; always an object, whose <see cref="ModuleImage.Pe"/> is null when nothing has the headers.</summary>
    public ModuleImage Get(DumpModule module)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _images.GetOrAdd(module.BaseAddress, _ => Build(module));
    }

    /// <summary>The image of the module containing <paramref name="address"/>; null outside every module.</summary>
    public ModuleImage? At(ulong address) => _dump.ModuleAt(address) is { } m ? Get(m) : null;

    private ModuleImage Build(DumpModule module)
    {
        var notes = new List<string>();
        IImageBytes memory = new DumpImageBytes(_dump.Memory, module.BaseAddress, module.Size);
        var memoryPe = _dump.Memory.Contains(module.BaseAddress) ? PeImage.TryParse(memory) : null;

        FileImageBytes? file = null;
        if (_findImageFile is not null)
        {
            string? path = null;
            try { path = _findImageFile(module); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { notes.Add($"Looking up the image file failed: {e.Message}"); }
            if (path is not null)
            {
                file = FileImageBytes.Open(path);
                if (file is null) notes.Add($"'{path}' is not a readable PE image.");
                else if (Mismatch(module, file.Image) is { } why)
                {
                    notes.Add($"'{path}' does not match the module: {why}.");
                    file.Dispose();
                    file = null;
                }
                else lock (_open) _open.Add(file);
            }
        }

        if (file is not null)
        {
            var layered = new LayeredImageBytes(memory, file);
            var pe = PeImage.TryParse(layered) ?? file.Image;
            return new ModuleImage(module, pe, layered, "dump+file", file.Path, notes);
        }
        if (memoryPe is not null) return new ModuleImage(module, memoryPe, memory, "dump", null, notes);
        return new ModuleImage(module, null, memory, "dump (no headers)", null, notes);
    }

    private static string? Mismatch(DumpModule module, PeImage image)
    {
        if (module.TimeDateStamp != 0 && image.TimeDateStamp != module.TimeDateStamp)
            return $"TimeDateStamp 0x{image.TimeDateStamp:X8}, the module's is 0x{module.TimeDateStamp:X8}";
        if (module.Size != 0 && image.SizeOfImage != module.Size)
            return $"SizeOfImage 0x{image.SizeOfImage:X}, the module's is 0x{module.Size:X}";
        return null;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_open)
        {
            foreach (var d in _open) d.Dispose();
            _open.Clear();
        }
    }
}

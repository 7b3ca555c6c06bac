using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DumpShell.Symbols.Pe;
using Xunit;
using Xunit.Abstractions;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The PE image reader and the version resource reader: against the Wine corpus's executables (mapped
/// as the loader maps them) and their build facts, against every module image a full-memory dump holds
/// (checked against the dump's own ModuleList), and against hostile headers built here.
/// </summary>
public class PeImageTests(ITestOutputHelper output)
{
    // ---------------------------------------------------------------- test-only image mapping

    /// <summary>
    /// An image file laid out as the loader maps it: headers at RVA 0, each section's raw data at its
    /// VirtualAddress, zero fill elsewhere. Written from the PE spec with its own reads, so it checks the
    /// engine's parser rather than sharing its code.
    /// </summary>
    private sealed class MappedImageBytes : IImageBytes
    {
        private readonly byte[] _image;

        public MappedImageBytes(byte[] file)
        {
            int lfanew = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(60));
            int coff = lfanew + 4;
            int sections = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(coff + 2));
            int optionalSize = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(coff + 16));
            int optional = coff + 20;
            uint sizeOfImage = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(optional + 56));
            uint sizeOfHeaders = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(optional + 60));
            _image = new byte[sizeOfImage];
            file.AsSpan(0, (int)Math.Min(sizeOfHeaders, (uint)file.Length)).CopyTo(_image);
            for (int i = 0; i < sections; i++)
            {
                var h = file.AsSpan(optional + optionalSize + 40 * i, 40);
                uint virtualSize = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
                uint va = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
                uint rawSize = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
                uint rawAt = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
                uint n = Math.Min(rawSize, virtualSize == 0 ? rawSize : virtualSize);
                n = Math.Min(n, (uint)file.Length - Math.Min(rawAt, (uint)file.Length));
                n = Math.Min(n, sizeOfImage - Math.Min(va, sizeOfImage));
                file.AsSpan((int)rawAt, (int)n).CopyTo(_image.AsSpan((int)va));
            }
        }

        public int Read(uint rva, Span<byte> buffer)
        {
            if (rva >= _image.Length) return 0;
            int n = (int)Math.Min((uint)buffer.Length, (uint)_image.Length - rva);
            _image.AsSpan((int)rva, n).CopyTo(buffer);
            return n;
        }
    }

    /// <summary>Raw bytes at RVA = offset: for hand-built headers (and for reading a file's headers as they lie on disk).</summary>
    private sealed class ArrayBytes(byte[] bytes) : IImageBytes
    {
        public int Reads { get; private set; }

        public int Read(uint rva, Span<byte> buffer)
        {
            Reads++;
            if (rva >= bytes.Length) return 0;
            int n = (int)Math.Min((uint)buffer.Length, (uint)bytes.Length - rva);
            bytes.AsSpan((int)rva, n).CopyTo(buffer);
            return n;
        }
    }

    private static uint Hex(JsonElement e) =>
        uint.Parse(e.GetString()!.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static ulong Hex64(JsonElement e) =>
        ulong.Parse(e.GetString()!.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    /// <summary>Every Wine dump whose truth records the build's PE headers and its symbol-store copy of the exe.</summary>
    public static TheoryData<string> BuiltImages()
    {
        var data = new TheoryData<string>();
        foreach (var name in TestData.WineDumpNames())
        {
            var build = TestData.Truth(name).GetProperty("from_build");
            if (build.TryGetProperty("pe", out var pe) && pe.ValueKind == JsonValueKind.Object &&
                build.TryGetProperty("symstore_exe_path", out var p) && p.ValueKind == JsonValueKind.String)
                data.Add(name);
        }
        return data;
    }

    // ---------------------------------------------------------------- real images from the build

    [Theory]
    [MemberData(nameof(BuiltImages))]
    public void HeadersOfBuiltImagesMatchTheBuild(string dumpName)
    {
        var build = TestData.Truth(dumpName).GetProperty("from_build");
        var pe = build.GetProperty("pe");
        string exe = Path.Combine(TestData.Wine, build.GetProperty("symstore_exe_path").GetString()!);
        byte[] file = File.ReadAllBytes(exe);

        var image = PeImage.TryParse(new MappedImageBytes(file));

        Assert.NotNull(image);
        Assert.Empty(image.Problems);
        Assert.Equal(Hex(pe.GetProperty("machine")), image.Machine);
        Assert.Equal(Hex(pe.GetProperty("time_date_stamp")), image.TimeDateStamp);
        Assert.Equal(Hex(pe.GetProperty("size_of_image")), image.SizeOfImage);
        Assert.Equal(Hex64(pe.GetProperty("preferred_image_base")), image.ImageBase);
        Assert.True(image.Is64Bit);
        Assert.Equal(PeImage.Pe32PlusMagic, image.Magic);
        // The symbol-store directory is TimeDateStamp (8 hex digits) followed by SizeOfImage (hex).
        Assert.Equal(pe.GetProperty("exe_symstore_dir").GetString(), $"{image.TimeDateStamp:X8}{image.SizeOfImage:X}");

        var expected = pe.GetProperty("sections").EnumerateArray()
            .Select(s => (s.GetProperty("name").GetString(), Hex(s.GetProperty("rva")), Hex(s.GetProperty("virtual_size"))))
            .ToArray();
        Assert.Equal(expected.Length, image.NumberOfSections);
        Assert.Equal(expected, image.Sections.Select(s => ((string?)s.Name, s.VirtualAddress, s.VirtualSize)).ToArray());

        // A console exe (IMAGE_SUBSYSTEM_WINDOWS_CUI) whose entry point lies in .text; 16 data directories.
        Assert.Equal(3, image.Subsystem);
        Assert.False(image.IsDll);
        Assert.Equal(".text", image.SectionAt(image.AddressOfEntryPoint)?.Name);
        Assert.Equal(16u, image.NumberOfRvaAndSizes);
        Assert.Equal(16, image.DataDirectories.Count);

        // The mapping a file-backed IImageBytes will use: each section's first byte is at PointerToRawData.
        foreach (var s in image.Sections.Where(s => s.SizeOfRawData > 0))
            Assert.Equal(s.PointerToRawData, image.RvaToFileOffset(s.VirtualAddress));
        Assert.Equal(image.NtHeaderOffset, image.RvaToFileOffset(image.NtHeaderOffset));

        // The headers parse the same read straight from the file (RVA = file offset below SizeOfHeaders).
        var onDisk = PeImage.TryParse(new ArrayBytes(file));
        Assert.NotNull(onDisk);
        Assert.Equal(image.TimeDateStamp, onDisk.TimeDateStamp);
        Assert.Equal(image.Sections, onDisk.Sections);

        // Neither toolchain gave these executables a version resource (no .rsrc section).
        Assert.True(image.GetDirectory(PeDirectory.Resource).IsEmpty);
        Assert.Null(VersionResource.TryRead(image));
    }

    // ---------------------------------------------------------------- every module of a full-memory dump

    [Fact]
    public void ModuleHeadersInFullDumpMatchTheModuleList()
    {
        using var dump = Dump.Open(TestData.WineDump("deadlock_cs_x64_full"));
        var modules = dump.File!.Modules;
        Assert.NotEmpty(modules);
        int withVersion = 0;
        var report = new StringBuilder();
        foreach (var m in modules)
        {
            var image = PeImage.TryParse(new DumpImageBytes(dump.Memory, m.BaseOfImage, m.SizeOfImage));
            Assert.True(image is not null, $"{m.Name}: no PE headers at 0x{m.BaseOfImage:X}");
            Assert.Empty(image.Problems);
            // dbghelp fills MINIDUMP_MODULE from the loaded image's headers; the parser read the same ones.
            Assert.Equal(m.SizeOfImage, image.SizeOfImage);
            Assert.Equal(m.TimeDateStamp, image.TimeDateStamp);
            Assert.Equal(m.CheckSum, image.CheckSum);
            Assert.Equal((ushort)0x8664, image.Machine);
            Assert.NotEmpty(image.Sections);
            Assert.All(image.Sections, s => Assert.True((ulong)s.VirtualAddress + s.VirtualSize <= image.SizeOfImage,
                $"{m.Name}: section {s.Name} ends past SizeOfImage"));

            var resources = image.GetDirectory(PeDirectory.Resource);
            var version = VersionResource.TryRead(image);
            report.Append($"{Dump.FileNameOf(m.Name),-20} ts=0x{image.TimeDateStamp:X8} size=0x{image.SizeOfImage:X} " +
                $"rsrc=0x{resources.VirtualAddress:X}+0x{resources.Size:X} ");
            if (version is null)
            {
                report.AppendLine("no version resource");
                continue;
            }
            withVersion++;
            report.AppendLine($"fixed={version.FixedFileInfo?.FileVersion} table={version.StringTableKey} " +
                string.Join("; ", version.Strings.Select(kv => $"{kv.Key}={kv.Value}")));

            // VS_FIXEDFILEINFO read from the image equals the copy dbghelp wrote into MINIDUMP_MODULE.VersionInfo.
            Assert.NotNull(version.FixedFileInfo);
            Assert.Equal(m.Version, version.FixedFileInfo);
        }
        output.WriteLine(report.ToString());

        // Where the image's resource directory lies in dump memory (a full dump: every module's does), a version
        // resource is found exactly when dbghelp found one (MINIDUMP_MODULE.VersionInfo, which Wine's dbghelp
        // reads from the file on disk): ntdll, kernel32 and msvcrt have one; kernelbase's resources hold no
        // RT_VERSION, and the mingw exe has no resources at all.
        int checkedModules = 0;
        foreach (var m in modules)
        {
            var image = PeImage.TryParse(new DumpImageBytes(dump.Memory, m.BaseOfImage, m.SizeOfImage))!;
            var resources = image.GetDirectory(PeDirectory.Resource);
            if (!resources.IsEmpty && !dump.Memory.Contains(m.BaseOfImage + resources.VirtualAddress)) continue;
            checkedModules++;
            var version = VersionResource.TryRead(image);
            Assert.True((version is not null) == (m.Version is not null),
                $"{m.Name}: version resource {(version is null ? "not found" : "found")}, ModuleList VersionInfo {(m.Version is null ? "absent" : "present")}");
            if (version is null) continue;
            // The strings name the module's own file (Wine writes OriginalFilename from the DLL's name).
            Assert.Equal(Dump.FileNameOf(m.Name), version.OriginalFilename, StringComparer.OrdinalIgnoreCase);
            Assert.StartsWith("0409", version.StringTableKey);
        }
        Assert.Equal(modules.Count, checkedModules);
        Assert.True(withVersion >= 3, $"{withVersion} modules of the full dump had a version resource");
    }

    [Fact]
    public void DumpModulesCarryCompanyAndDescriptionFromTheVersionResource()
    {
        using var dump = Dump.Open(TestData.WineDump("deadlock_cs_x64_full"));
        foreach (var (module, record) in dump.Modules.Zip(dump.File!.Modules))
        {
            var image = PeImage.TryParse(new DumpImageBytes(dump.Memory, record.BaseOfImage, record.SizeOfImage));
            var version = image is null ? null : VersionResource.TryRead(image);
            Assert.Equal(version?.CompanyName, module.CompanyName);
            Assert.Equal(version?.FileDescription, module.FileDescription);
            output.WriteLine($"{module.Name}: CompanyName={module.CompanyName ?? "(null)"} FileDescription={module.FileDescription ?? "(null)"}");
        }
        Assert.Contains(dump.Modules, m => m.FileDescription is { Length: > 0 });
    }

    [Fact]
    public void NormalDumpWithoutImagePagesLeavesVersionStringsEmpty()
    {
        // A normal Wine dump holds stacks and a few structures, not module images.
        using var dump = Dump.Open(TestData.WineDump("deadlock_cs_x64"));
        foreach (var record in dump.File!.Modules)
        {
            if (dump.Memory.Contains(record.BaseOfImage)) continue;
            Assert.Null(PeImage.TryParse(new DumpImageBytes(dump.Memory, record.BaseOfImage, record.SizeOfImage)));
        }
        Assert.All(dump.Modules, m => Assert.True(m.CompanyName is null || dump.Memory.Contains(m.BaseAddress)));
    }

    [Fact]
    public void ModulesOfEveryCorpusDumpBuild()
    {
        // Breakpad, lldb and rust-minidump dumps include fuzzed and truncated ones, and Linux/macOS modules
        // whose memory (if any) holds no PE image: building the module list must not throw for any of them.
        int opened = 0, withStrings = 0;
        foreach (var relative in TestData.AllSharedDumps())
        {
            Dump dump;
            try { dump = Dump.Open(TestData.Shared(relative)); }
            catch (DumpShell.Format.DumpFormatException) { continue; }
            using (dump)
            {
                opened++;
                foreach (var m in dump.Modules)
                {
                    if (m.CompanyName is null && m.FileDescription is null) continue;
                    withStrings++;
                    Assert.True(dump.Memory.Contains(m.BaseAddress), $"{relative}: {m.Name} has version strings but no image in memory");
                    output.WriteLine($"{relative}: {m.Name}: {m.CompanyName} / {m.FileDescription}");
                }
            }
        }
        output.WriteLine($"{opened} dumps opened, {withStrings} modules with version strings");
        Assert.True(opened > 0);
        Assert.True(withStrings >= 3);
    }

    // ---------------------------------------------------------------- hand-built images

    /// <summary>A minimal PE32+ image: DOS header, NT headers, <paramref name="sections"/> section headers, 0x1000 bytes.</summary>
    private static byte[] MinimalImage(int size = 0x3000, ushort sections = 1)
    {
        var b = new byte[size];
        W16(b, 0, PeImage.DosSignature);
        W32(b, 60, 0x80);
        W32(b, 0x80, PeImage.NtSignature);
        int coff = 0x84;
        W16(b, coff, 0x8664);
        W16(b, coff + 2, sections);
        W32(b, coff + 4, 0x12345678);
        W16(b, coff + 16, 240);
        W16(b, coff + 18, 0x2022); // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL
        int opt = coff + 20;
        W16(b, opt, PeImage.Pe32PlusMagic);
        W32(b, opt + 16, 0x1000);
        W64(b, opt + 24, 0x180000000);
        W32(b, opt + 56, (uint)size);
        W32(b, opt + 60, 0x400);
        W32(b, opt + 108, 16);
        int sec = opt + 240;
        if (sections >= 1 && sec + 40 <= size)
        {
            Encoding.ASCII.GetBytes(".rsrc").CopyTo(b, sec);
            W32(b, sec + 8, 0x2000);
            W32(b, sec + 12, 0x1000);
            W32(b, sec + 16, 0x2000);
            W32(b, sec + 20, 0x400);
        }
        return b;
    }

    private const int OptionalAt = 0x84 + 20;
    private const int ResourceDirectoryEntryAt = OptionalAt + 112 + 8 * (int)PeDirectory.Resource;

    private static void W16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
    private static void W32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    private static void W64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);

    /// <summary>Runs <paramref name="parse"/> on a worker thread and fails if it does not finish in time (a hang).</summary>
    private static T Bounded<T>(Func<T> parse)
    {
        var task = Task.Run(parse);
        Assert.True(task.Wait(TimeSpan.FromSeconds(10)), "the parser did not finish");
        return task.Result;
    }

    [Fact]
    public void MinimalImageParses()
    {
        var image = PeImage.TryParse(new ArrayBytes(MinimalImage()));
        Assert.NotNull(image);
        Assert.Equal(0x12345678u, image.TimeDateStamp);
        Assert.Equal(0x180000000ul, image.ImageBase);
        Assert.True(image.IsDll);
        Assert.Equal(".rsrc", Assert.Single(image.Sections).Name);
        Assert.Equal(0x1400u, image.RvaToFileOffset(0x1000 + 0x1000)); // section at RVA 0x1000 is at file 0x400
        Assert.Equal(0x100u, image.RvaToFileOffset(0x100)); // in the headers
    }

    [Theory]
    [InlineData(0x7FFF_FFFFu)]  // far past the image
    [InlineData(0xFFFF_FFFFu)]  // negative as an int
    [InlineData(0x2FF0u)]       // inside, but the NT headers would run past the end
    [InlineData(0u)]
    [InlineData(2u)]
    public void ELfanewOutOfRangeGivesNull(uint lfanew)
    {
        var b = MinimalImage();
        W32(b, 60, lfanew);
        Assert.Null(Bounded(() => PeImage.TryParse(new ArrayBytes(b))));
    }

    [Fact]
    public void NotAnImageGivesNull()
    {
        Assert.Null(PeImage.TryParse(new ArrayBytes([])));
        Assert.Null(PeImage.TryParse(new ArrayBytes(new byte[0x1000])));
        var b = MinimalImage();
        W16(b, OptionalAt, 0x107); // ROM image magic: neither PE32 nor PE32+
        Assert.Null(PeImage.TryParse(new ArrayBytes(b)));
        b = MinimalImage();
        W16(b, 0x84 + 16, 0); // no optional header at all
        Assert.Null(PeImage.TryParse(new ArrayBytes(b)));
    }

    [Fact]
    public void HugeNumberOfSectionsIsCappedAndDoesNotThrow()
    {
        // 0xFFFF headers declared. With room for only a few, the parser keeps what it could read.
        var small = MinimalImage(size: 0x3000, sections: 0xFFFF);
        var bytes = new ArrayBytes(small);
        var image = Bounded(() => PeImage.TryParse(bytes));
        Assert.NotNull(image);
        Assert.Equal(0xFFFF, image.NumberOfSections);
        Assert.Equal((0x3000 - (OptionalAt + 240)) / 40, image.Sections.Count);
        Assert.NotEmpty(image.Problems);
        Assert.True(bytes.Reads < 100, $"{bytes.Reads} reads");

        // With bytes for all of them (a 2.6 MB header), it stops at MaxSections rather than reading 65535.
        var large = MinimalImage(size: OptionalAt + 240 + 40 * 0xFFFF + 0x100, sections: 0xFFFF);
        image = Bounded(() => PeImage.TryParse(new ArrayBytes(large)));
        Assert.NotNull(image);
        Assert.Equal(PeImage.MaxSections, image.Sections.Count);
        Assert.Null(image.SectionAt(0x7FFF_0000));
    }

    [Fact]
    public void DataDirectoriesAreClippedToTheOptionalHeader()
    {
        var b = MinimalImage();
        W32(b, OptionalAt + 108, 0xFFFF_FFFF); // NumberOfRvaAndSizes
        var image = PeImage.TryParse(new ArrayBytes(b))!;
        Assert.Equal(16, image.DataDirectories.Count);

        b = MinimalImage();
        W16(b, 0x84 + 16, 112 + 8 * 3); // SizeOfOptionalHeader with room for 3 directories
        W32(b, OptionalAt + 108, 16);
        image = PeImage.TryParse(new ArrayBytes(b))!;
        Assert.Equal(3, image.DataDirectories.Count);
        Assert.True(image.GetDirectory(PeDirectory.Debug).IsEmpty);
        Assert.True(image.GetDirectory((PeDirectory)1000).IsEmpty);
    }

    [Theory]
    [InlineData(0xFFFF_F000u, 0x2000u)]  // RVA near the top: RVA + offset overflows
    [InlineData(0x1000u, 0xFFFF_FFFFu)]  // size far past the image
    [InlineData(0x7FFF_0000u, 0x100u)]   // nowhere
    [InlineData(0x1000u, 0x8u)]          // smaller than a directory header
    public void ResourceDirectoryPointingAnywhereGivesNoVersion(uint rva, uint size)
    {
        var b = MinimalImage();
        W32(b, ResourceDirectoryEntryAt, rva);
        W32(b, ResourceDirectoryEntryAt + 4, size);
        var image = PeImage.TryParse(new ArrayBytes(b))!;
        Assert.Null(Bounded(() => VersionResource.TryRead(image)));
    }

    /// <summary>
    /// A resource tree at RVA 0x1000: root → type 16 → name 1 → language 0x409 → data entry (at 0x60) → a
    /// VS_VERSIONINFO at RVA 0x1100. Returns the image and the offsets (from the resource root) of its three
    /// directories; the third has room for a second entry.
    /// </summary>
    private static byte[] ImageWithVersion(out int[] directories, byte[]? versionInfo = null)
    {
        var b = MinimalImage();
        const int root = 0x1000;
        W32(b, ResourceDirectoryEntryAt, root);
        W32(b, ResourceDirectoryEntryAt + 4, 0x2000);
        directories = [0x0, 0x18, 0x30];
        // Each directory: 16-byte header with one id entry.
        int[] ids = [VersionResource.RtVersion, 1, 0x409];
        for (int level = 0; level < 3; level++)
        {
            int at = root + directories[level];
            W16(b, at + 14, 1);
            W32(b, at + 16, (uint)ids[level]);
            uint target = level < 2 ? 0x8000_0000u | (uint)directories[level + 1] : 0x60u;
            W32(b, at + 20, target);
        }
        versionInfo ??= VersionInfoBlock();
        W32(b, root + 0x60, root + 0x100);        // data entry: OffsetToData (an RVA)
        W32(b, root + 0x60 + 4, (uint)versionInfo.Length);
        versionInfo.CopyTo(b, root + 0x100);
        return b;
    }

    /// <summary>Builds a version block: header, key, padding, value, padding, children; wLength filled in.</summary>
    private static byte[] VersionBlock(string key, ushort type, byte[] value, ushort valueLength, params byte[][] children)
    {
        var s = new List<byte>();
        s.AddRange(new byte[6]);
        s.AddRange(Encoding.Unicode.GetBytes(key + "\0"));
        while (s.Count % 4 != 0) s.Add(0);
        s.AddRange(value);
        foreach (var child in children)
        {
            while (s.Count % 4 != 0) s.Add(0);
            s.AddRange(child);
        }
        var b = s.ToArray();
        W16(b, 0, (ushort)b.Length);
        W16(b, 2, valueLength);
        W16(b, 4, type);
        return b;
    }

    private static byte[] StringBlock(string key, string value) =>
        VersionBlock(key, 1, Encoding.Unicode.GetBytes(value + "\0"), (ushort)(value.Length + 1));

    private static byte[] VersionInfoBlock(byte[]? stringFileInfo = null, string company = "Contoso")
    {
        var fixedInfo = new byte[52];
        W32(fixedInfo, 0, 0xFEEF04BD);
        W32(fixedInfo, 4, 0x10000);
        W32(fixedInfo, 8, 0x0001_0002); // 1.2.3.4
        W32(fixedInfo, 12, 0x0003_0004);
        W32(fixedInfo, 16, 0x0005_0006); // product 5.6.7.8
        W32(fixedInfo, 20, 0x0007_0008);
        stringFileInfo ??= VersionBlock("StringFileInfo", 1, [], 0,
            VersionBlock("040904B0", 1, [], 0,
                StringBlock("CompanyName", company),
                StringBlock("FileDescription", "Test image"),
                StringBlock("FileVersion", "1.2.3.4"),
                StringBlock("Comments", "")));
        var translation = new byte[4];
        W16(translation, 0, 0x409);
        W16(translation, 2, 0x4B0);
        return VersionBlock("VS_VERSION_INFO", 0, fixedInfo, 52,
            stringFileInfo,
            VersionBlock("VarFileInfo", 1, [], 0, VersionBlock("Translation", 0, translation, 4)));
    }

    [Fact]
    public void HandBuiltVersionResourceIsRead()
    {
        var image = PeImage.TryParse(new ArrayBytes(ImageWithVersion(out _)))!;
        Assert.Equal((0x1100u, (uint)VersionInfoBlock().Length, (ushort?)0x409), VersionResource.FindVersionEntry(image));
        var version = VersionResource.TryRead(image);
        Assert.NotNull(version);
        Assert.Equal((ushort)0x409, version.ResourceLanguage);
        Assert.Equal(new Version(1, 2, 3, 4), version.FixedFileInfo?.FileVersion);
        Assert.Equal(new Version(5, 6, 7, 8), version.FixedFileInfo?.ProductVersion);
        Assert.Equal("040904B0", version.StringTableKey);
        Assert.Equal(new[] { (0x409, 0x4B0) }, version.Translations.Select(t => ((int)t.Language, (int)t.CodePage)));
        Assert.Equal("Contoso", version.CompanyName);
        Assert.Equal("Test image", version.FileDescription);
        Assert.Equal("1.2.3.4", version.Strings["fileversion"]);
        Assert.Equal("", version.Strings["Comments"]);
        Assert.Null(version.ProductName);
    }

    [Fact]
    public void EnglishVersionIsPreferredAmongLanguages()
    {
        // Language directory: 0x401 (first, as ids sort) → a second VS_VERSIONINFO; 0x409 → the usual one.
        var b = ImageWithVersion(out var dirs);
        int languages = 0x1000 + dirs[2];
        W16(b, languages + 14, 2);
        W32(b, languages + 16, 0x401);
        W32(b, languages + 20, 0x70);
        W32(b, languages + 24, 0x409);
        W32(b, languages + 28, 0x60);
        var arabic = VersionInfoBlock(company: "Arabic");
        W32(b, 0x1070, 0x1800);
        W32(b, 0x1074, (uint)arabic.Length);
        arabic.CopyTo(b, 0x1800);
        var version = VersionResource.TryRead(PeImage.TryParse(new ArrayBytes(b))!);
        Assert.Equal("Contoso", version?.CompanyName);
        Assert.Equal((ushort)0x409, version?.ResourceLanguage);

        // Without English, the first language is taken.
        W32(b, languages + 24, 0x407);
        version = VersionResource.TryRead(PeImage.TryParse(new ArrayBytes(b))!);
        Assert.Equal("Arabic", version?.CompanyName);
        Assert.Equal((ushort)0x401, version?.ResourceLanguage);
    }

    [Fact]
    public void ResourceDirectoryCycleEndsWithoutVersion()
    {
        // The type-16 entry points back at the root directory; so does every level below it.
        var b = ImageWithVersion(out var dirs);
        W32(b, 0x1000 + dirs[0] + 20, 0x8000_0000u); // root's RT_VERSION entry → root
        var image = PeImage.TryParse(new ArrayBytes(b))!;
        Assert.Null(Bounded(() => VersionResource.TryRead(image)));

        // Level 2 points back at level 1, level 3 at itself.
        b = ImageWithVersion(out dirs);
        W32(b, 0x1000 + dirs[1] + 20, 0x8000_0000u | (uint)dirs[1]);
        W32(b, 0x1000 + dirs[2] + 20, 0x8000_0000u | (uint)dirs[2]);
        image = PeImage.TryParse(new ArrayBytes(b))!;
        Assert.Null(Bounded(() => VersionResource.TryRead(image)));

        // A directory declaring 65535 + 65535 entries, all pointing at itself.
        b = ImageWithVersion(out dirs);
        W16(b, 0x1000 + 12, 0xFFFF);
        W16(b, 0x1000 + 14, 0xFFFF);
        image = PeImage.TryParse(new ArrayBytes(b))!;
        Assert.Null(Bounded(() => VersionResource.TryRead(image)));
    }

    [Fact]
    public void HostileVersionBlocksDoNotThrowOrHang()
    {
        // Zero-length children: a walk that trusted wLength would never advance.
        var zero = new byte[64];
        var block = VersionBlock("VS_VERSION_INFO", 0, new byte[52], 52);
        var withZeros = block.Concat(zero).ToArray();
        W16(withZeros, 0, (ushort)withZeros.Length);
        var v = Bounded(() => VersionResource.Parse(withZeros));
        Assert.NotNull(v);
        Assert.Null(v.FixedFileInfo); // no signature
        Assert.Empty(v.Strings);

        // wLength and wValueLength far past the data; a key with no NUL; a string value with no NUL.
        var lying = VersionInfoBlock();
        W16(lying, 0, 0xFFFF);
        W16(lying, 2, 0xFFFF);
        Assert.NotNull(Bounded(() => VersionResource.Parse(lying)));
        var noNul = new byte[200];
        W16(noNul, 0, 200);
        for (int i = 6; i < 200; i += 2) noNul[i] = (byte)'A';
        Assert.Null(Bounded(() => VersionResource.Parse(noNul)));
        var cut = VersionInfoBlock();
        for (int n = 0; n < cut.Length; n += 7)
            Bounded(() => VersionResource.Parse(cut.AsSpan(0, n)));

        // Deep nesting the format does not have is ignored, not followed.
        byte[] deep = StringBlock("X", "y");
        for (int i = 0; i < 50; i++) deep = VersionBlock("StringFileInfo", 1, [], 0, deep);
        Assert.NotNull(Bounded(() => VersionResource.Parse(VersionInfoBlock(deep))));
    }

    [Fact]
    public void RandomlyCorruptedImagesNeverThrow()
    {
        // Flip bytes of the headers and the resource tree of the hand-built image and of a real one.
        var exe = Path.Combine(TestData.Wine, TestData.Truth("spin_x64").GetProperty("from_build")
            .GetProperty("symstore_exe_path").GetString()!);
        byte[] real = File.ReadAllBytes(exe)[..0x1000];
        byte[] built = ImageWithVersion(out _);
        var random = new Random(20240607);
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < 3000; round++)
        {
            var b = (byte[])(round % 2 == 0 ? built : real).Clone();
            int flips = random.Next(1, 16);
            for (int i = 0; i < flips; i++)
            {
                int region = round % 2 == 0 && random.Next(2) == 0 ? 0x1000 : 0; // the resource tree or the headers
                b[region + random.Next(0x200)] = (byte)random.Next(256);
            }
            var image = PeImage.TryParse(new ArrayBytes(b));
            if (image is null) continue;
            _ = image.Sections.Count;
            _ = image.RvaToFileOffset((uint)random.Next());
            _ = VersionResource.TryRead(image);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"3000 corrupt images took {clock.Elapsed}");
    }
}

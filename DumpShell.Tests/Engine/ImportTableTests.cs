using System.Buffers.Binary;
using System.Text;
using DumpShell.Symbols.Pe;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The import-table reader (IMAGE_IMPORT_DESCRIPTOR, OriginalFirstThunk/FirstThunk, by name and by ordinal) on the
/// dump factory's executables and on hostile hand-built images.
/// </summary>
public sealed class ImportTableTests
{
    private static IEnumerable<string> FactoryImages() =>
        Directory.EnumerateFiles(Path.Combine(TestData.Wine, "symbols"), "*.exe", SearchOption.AllDirectories).Order();

    public static TheoryData<string> Images() => new(FactoryImages().Select(Path.GetFileName)!);

    private static string ImagePath(string name) => FactoryImages().Single(p => Path.GetFileName(p) == name);

    [Theory]
    [MemberData(nameof(Images))]
    public void Every_factory_image_imports_from_kernel32_with_slots_in_its_import_address_table(string name)
    {
        using var file = FileImageBytes.Open(ImagePath(name));
        Assert.NotNull(file);
        var imports = ImportTable.TryRead(file.Image);
        Assert.NotNull(imports);
        Assert.Empty(imports.Problems);
        Assert.Contains(imports.Dlls, d => d.Equals("KERNEL32.dll", StringComparison.OrdinalIgnoreCase));
        // Every slot lies in the IAT data directory (the loader's bound range) and is pointer-aligned and unique.
        var iat = file.Image.GetDirectory(PeDirectory.ImportAddressTable);
        Assert.False(iat.IsEmpty);
        Assert.All(imports.Imports, i =>
        {
            Assert.InRange(i.SlotRva, iat.VirtualAddress, iat.VirtualAddress + iat.Size - 8);
            Assert.Equal(0u, (i.SlotRva - iat.VirtualAddress) % 8);
            Assert.False(string.IsNullOrEmpty(i.FunctionText));
        });
        Assert.Equal(imports.Imports.Count, imports.Imports.Select(i => i.SlotRva).Distinct().Count());
        Assert.NotNull(imports.Find("kernel32", "GetLastError"));
        // Each by-name entry's hint/name record sits where the lookup table says: check against the file's bytes.
        foreach (var i in imports.Imports.Where(i => i.Name is not null).Take(8))
        {
            var found = FindHintName(file.Image, i);
            Assert.True(found, $"{i.DllName}!{i.Name}: hint {i.Hint} and name not found where the lookup table points");
        }
    }

    /// <summary>Reads the lookup-table entry for <paramref name="import"/> from the raw image and checks the hint/name it points to.</summary>
    private static bool FindHintName(PeImage image, PeImport import)
    {
        var dir = image.GetDirectory(PeDirectory.Import);
        var d = new byte[20];
        for (uint at = dir.VirtualAddress; image.Read(at, d) == 20; at += 20)
        {
            uint lookup = BinaryPrimitives.ReadUInt32LittleEndian(d), first = BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(16));
            if (lookup == 0 && first == 0) return false;
            if (import.SlotRva < first || (import.SlotRva - first) % 8 != 0) continue;
            uint index = (import.SlotRva - first) / 8;
            var thunk = new byte[8];
            if (image.Read((lookup != 0 ? lookup : first) + index * 8, thunk) != 8) continue;
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(thunk);
            if ((value >> 63) != 0 || value > uint.MaxValue) continue;
            var record = new byte[2 + import.Name!.Length + 1];
            if (image.Read((uint)value, record) != record.Length) continue;
            if (BinaryPrimitives.ReadUInt16LittleEndian(record) == import.Hint
                && Encoding.ASCII.GetString(record, 2, import.Name.Length) == import.Name && record[^1] == 0)
                return true;
        }
        return false;
    }

    [Fact]
    public void Heap_corrupt_imports_HeapFree_from_KERNEL32_through_its_slot()
    {
        // objdump -p: KERNEL32.dll, Hint Table 0x10040, First Thunk 0x10288; HeapFree is entry 15 (hint 869),
        // HeapAlloc entry 13 (hint 863); msvcrt.dll's First Thunk is 0x10380.
        using var file = FileImageBytes.Open(ImagePath("heap_corrupt_x64.exe"));
        var imports = ImportTable.TryRead(file!.Image)!;
        Assert.Equal(new[] { "KERNEL32.dll", "msvcrt.dll" }, imports.Dlls);
        var free = imports.FindSlot(0x10288 + 15 * 8);
        Assert.NotNull(free);
        Assert.Equal(("KERNEL32.dll", "HeapFree", (ushort)869, (uint?)null), (free.DllName, free.Name, free.Hint, free.Ordinal));
        Assert.Equal("HeapAlloc", imports.FindSlot(0x10288 + 13 * 8)?.Name);
        Assert.Equal(30, imports.Imports.Count(i => i.DllName == "KERNEL32.dll"));
        Assert.Equal(0x10380u, imports.Imports.First(i => i.DllName == "msvcrt.dll").SlotRva);
        Assert.Null(imports.FindSlot(0x10288 + 30 * 8)); // the terminating 0 is no slot
        Assert.Null(imports.FindSlot(0x10289));
    }

    // ---------------------------------------------------------------- hand-built images

    private sealed class ArrayBytes(byte[] bytes) : IImageBytes
    {
        public int Read(uint rva, Span<byte> buffer)
        {
            if (rva >= bytes.Length) return 0;
            int n = (int)Math.Min((uint)buffer.Length, (uint)bytes.Length - rva);
            bytes.AsSpan((int)rva, n).CopyTo(buffer);
            return n;
        }
    }

    private const int OptionalAt = 0x84 + 20;

    /// <summary>A PE32+ (or PE32) image of <paramref name="size"/> bytes, RVA = offset, whose import directory is at <paramref name="importRva"/>.</summary>
    private static byte[] Image(int size, uint importRva, uint importSize = 40, bool pe64 = true)
    {
        var b = new byte[size];
        W16(b, 0, PeImage.DosSignature);
        W32(b, 60, 0x80);
        W32(b, 0x80, PeImage.NtSignature);
        W16(b, 0x84, (ushort)(pe64 ? 0x8664 : 0x14c));
        W16(b, 0x84 + 16, (ushort)(pe64 ? 240 : 224));
        W16(b, OptionalAt, pe64 ? PeImage.Pe32PlusMagic : PeImage.Pe32Magic);
        W32(b, OptionalAt + 56, (uint)size);
        W32(b, OptionalAt + 60, 0x400);
        int dirs = pe64 ? 112 : 96;
        W32(b, OptionalAt + (pe64 ? 108 : 92), 16);
        W32(b, OptionalAt + dirs + 8, importRva);
        W32(b, OptionalAt + dirs + 12, importSize);
        return b;
    }

    private static void W16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
    private static void W32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    private static void W64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);

    private static void Descriptor(byte[] b, int at, uint lookup, uint name, uint first)
    {
        W32(b, at, lookup);
        W32(b, at + 12, name);
        W32(b, at + 16, first);
    }

    private static void Ascii(byte[] b, int at, string s) => Encoding.ASCII.GetBytes(s + "\0").CopyTo(b, at);

    private static T Bounded<T>(Func<T> parse)
    {
        var task = Task.Run(parse);
        Assert.True(task.Wait(TimeSpan.FromSeconds(10)), "the reader did not finish");
        return task.Result;
    }

    [Fact]
    public void By_name_and_by_ordinal_entries_in_PE32_plus_and_PE32()
    {
        foreach (bool pe64 in new[] { true, false })
        {
            int t = pe64 ? 8 : 4;
            var b = Image(0x3000, 0x1000, pe64: pe64);
            Descriptor(b, 0x1000, 0x1100, 0x1300, 0x1200);
            Ascii(b, 0x1300, "KERNEL32.dll");
            W16(b, 0x1400, 869);
            Ascii(b, 0x1402, "HeapFree");
            void Thunk(int table, int i, ulong v) { if (pe64) W64(b, table + i * t, v); else W32(b, table + i * t, (uint)v); }
            Thunk(0x1100, 0, 0x1400);
            Thunk(0x1100, 1, (pe64 ? 1UL << 63 : 1UL << 31) | 17);
            // The address table holds bound addresses, as in a loaded image: names come from the lookup table.
            Thunk(0x1200, 0, pe64 ? 0x7ffb_1234_5678UL : 0x7712_3456UL);
            Thunk(0x1200, 1, pe64 ? 0x7ffb_1234_9999UL : 0x7712_9999UL);
            var imports = ImportTable.TryRead(PeImage.TryParse(new ArrayBytes(b))!)!;
            Assert.Empty(imports.Problems);
            Assert.Equal(2, imports.Imports.Count);
            Assert.Equal(new PeImport("KERNEL32.dll", "HeapFree", 869, null, 0x1200), imports.FindSlot(0x1200));
            Assert.Equal(new PeImport("KERNEL32.dll", null, 0, 17, (uint)(0x1200 + t)), imports.FindSlot((uint)(0x1200 + t)));
            Assert.Equal("#17", imports.FindSlot((uint)(0x1200 + t))!.FunctionText);
        }
    }

    [Fact]
    public void Without_a_lookup_table_names_come_from_the_unbound_file_and_never_from_bound_addresses()
    {
        var file = Image(0x3000, 0x1000);
        Descriptor(file, 0x1000, 0, 0x1300, 0x1200);
        Ascii(file, 0x1300, "msvcrt.dll");
        W16(file, 0x1400, 5);
        Ascii(file, 0x1402, "free");
        W64(file, 0x1200, 0x1400);
        var loaded = (byte[])file.Clone();
        W64(loaded, 0x1200, 0x7ffb_0000_1400); // bound: bit 31 clear in the low half would alias RVA 0x1400
        var fromFile = ImportTable.TryRead(PeImage.TryParse(new ArrayBytes(loaded))!, new ArrayBytes(file))!;
        Assert.Equal("free", fromFile.FindSlot(0x1200)?.Name);
        var boundOnly = ImportTable.TryRead(PeImage.TryParse(new ArrayBytes(loaded))!)!;
        var entry = Assert.Single(boundOnly.Imports);
        Assert.Null(entry.FunctionText);
    }

    [Fact]
    public void Hostile_import_directories_are_bounded_and_never_throw()
    {
        // No directory, or one pointing past the image.
        Assert.Null(ImportTable.TryRead(PeImage.TryParse(new ArrayBytes(Image(0x2000, 0)))!));
        Assert.Null(ImportTable.TryRead(PeImage.TryParse(new ArrayBytes(Image(0x2000, 0xFFFF_FFF0)))!));

        // A descriptor list that never ends: every descriptor names the same DLL, whose thunk table is the image's
        // tail of non-zero words running to the end of the image (no terminator).
        const int size = 0x20_0000;
        var b = Image(size, 0x1000);
        Ascii(b, 0x800, "evil.dll");
        for (int at = 0x1000; at + 20 <= 0x1000 + 20 * (ImportTable.MaxDescriptors + 100); at += 20)
            Descriptor(b, at, 0x10_0000, 0x800, 0x10_0000);
        for (int at = 0x10_0000; at + 8 <= size; at += 8) W64(b, at, 0x7FFF_FFFE); // a name RVA past the image
        var imports = Bounded(() => ImportTable.TryRead(PeImage.TryParse(new ArrayBytes(b))!))!;
        Assert.NotNull(imports);
        Assert.True(imports.Imports.Count <= ImportTable.MaxImports);
        Assert.True(imports.Dlls.Count <= ImportTable.MaxDescriptors);
        Assert.All(imports.Imports.Take(100), i => Assert.Null(i.FunctionText));
        Assert.NotEmpty(imports.Problems);

        // Names: unterminated (runs past the limit), unprintable, out of range; a FirstThunk of 0; a thunk table at
        // the last bytes of the image; ordinal flags in PE32 and a hint/name RVA at uint.MaxValue.
        var c = Image(0x4000, 0x1000, importSize: 0x100);
        for (int i = 0; i < 0x600; i++) c[0x2000 + i] = (byte)'A';
        Ascii(c, 0x2800, "bad\u0001name");
        Ascii(c, 0x2900, "ok.dll");
        Descriptor(c, 0x1000, 0x3000, 0x2000, 0x3100); // unterminated DLL name
        Descriptor(c, 0x1014, 0x3000, 0x2800, 0x3100); // unprintable DLL name
        Descriptor(c, 0x1028, 0x3000, 0xFFFF_FFFF, 0x3100); // name out of range
        Descriptor(c, 0x103C, 0x3000, 0x2900, 0); // no address table
        Descriptor(c, 0x1050, 0x3FF8, 0x2900, 0xFFFF_FFF8); // lookup table at the image's end, slots near uint.MaxValue
        W64(c, 0x3FF8, 0x7FFF_FFFF);
        Descriptor(c, 0x1064, 0x3000, 0x2900, 0x3100);
        W64(c, 0x3000, 0x2000); // the hint/name record whose name never ends
        W64(c, 0x3008, 0x3FFE); // a hint/name record cut by the image's end
        W64(c, 0x3010, 1UL << 63 | 0x12345);
        var hostile = Bounded(() => ImportTable.TryRead(PeImage.TryParse(new ArrayBytes(c))!))!;
        Assert.Equal(new[] { "ok.dll", "ok.dll", "ok.dll" }, hostile.Dlls);
        var ok = hostile.Imports.Where(i => i.SlotRva >= 0x3100 && i.SlotRva < 0x3200).ToArray();
        Assert.Equal(3, ok.Length);
        Assert.Null(ok[0].FunctionText);
        Assert.Null(ok[1].FunctionText);
        Assert.Equal(0x2345u, ok[2].Ordinal);
        Assert.NotEmpty(hostile.Problems);
    }
}

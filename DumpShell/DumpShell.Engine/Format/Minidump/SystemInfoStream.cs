namespace DumpShell.Format.Minidump;

/// <summary>MINIDUMP_SYSTEM_INFO.</summary>
public sealed record SystemInfoRecord(
    ushort ProcessorArchitecture,
    ushort ProcessorLevel,
    ushort ProcessorRevision,
    byte NumberOfProcessors,
    byte ProductType,
    uint MajorVersion,
    uint MinorVersion,
    uint BuildNumber,
    uint PlatformId,
    string? CsdVersion,
    ushort SuiteMask,
    string? CpuVendor,
    uint CpuVersionInformation,
    uint CpuFeatureInformation);

public sealed partial class MinidumpFile
{
    private const int SystemInfoSize = 56;
    private SystemInfoRecord? _systemInfo;
    private bool _systemInfoRead;

    /// <summary>The SystemInfo stream, or null when the dump has none.</summary>
    public SystemInfoRecord? SystemInfo => Once(ref _systemInfo, ref _systemInfoRead, ReadSystemInfo);

    private SystemInfoRecord? ReadSystemInfo()
    {
        if (!TryGetStream(MinidumpStreamType.SystemInfo, out var data)) return null;
        if (data.Length < SystemInfoSize)
        {
            Report("SystemInfoTruncated", $"The SystemInfo stream has {data.Length} of its {SystemInfoSize} bytes.",
                MinidumpStreamType.SystemInfo);
            if (data.Length < 24) return null;
        }
        var r = new ByteReader(data);
        ushort arch = r.U16(0);
        // CPU_INFORMATION is the x86 form (vendor id) on x86 and AMD64; other CPUs use ProcessorFeatures.
        string? vendor = null;
        if (arch is ProcessorArchitectures.X86 or ProcessorArchitectures.Amd64 && r.Has(32, 12))
        {
            // Windows fills the vendor id only for x86 processes on some versions; elsewhere the bytes are
            // ProcessorFeatures, which decode as noise. A vendor id is 12 letters ("GenuineIntel").
            vendor = System.Text.Encoding.ASCII.GetString(r.Bytes(32, 12));
            if (!vendor.All(char.IsAsciiLetter)) vendor = null;
        }
        return new SystemInfoRecord(
            arch, r.U16(2), r.U16(4), r.U8(6), r.U8(7), r.U32(8), r.U32(12), r.U32(16), r.U32(20),
            ReadString(r.U32(24)), r.U16(28), vendor, r.U32(44), r.U32(48));
    }
}

/// <summary>PROCESSOR_ARCHITECTURE_* values of SystemInfo.</summary>
public static class ProcessorArchitectures
{
    public const ushort X86 = 0;
    public const ushort Arm = 5;
    public const ushort Ia64 = 6;
    public const ushort Amd64 = 9;
    public const ushort Arm64 = 12;
    public const ushort Unknown = 0xFFFF;
}

/// <summary>SystemInfo.PlatformId: Windows' values and the ones Breakpad defines for other systems.</summary>
public static class PlatformIds
{
    public const uint Win32s = 0;
    public const uint Win32Windows = 1;
    public const uint Win32NT = 2;
    public const uint MacOS = 0x8101;
    public const uint IOS = 0x8102;
    public const uint Linux = 0x8201;
    public const uint Solaris = 0x8202;
    public const uint Android = 0x8203;
    public const uint PS3 = 0x8204;
    public const uint NaCl = 0x8205;
    public const uint Fuchsia = 0x8206;
}

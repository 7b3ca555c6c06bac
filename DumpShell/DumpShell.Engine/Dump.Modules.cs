using DumpShell.Format.Minidump;
using DumpShell.Model;
using DumpShell.Symbols.Pe;

namespace DumpShell;

public sealed partial class Dump
{
    /// <summary>Modules of the UnloadedModuleList stream (lm's unloaded list); none for an ELF core.</summary>
    public IReadOnlyList<DumpModule> UnloadedModules => File is null ? [] :
        File.UnloadedModules.Select((m, i) => new DumpModule
        {
            DumpPath = Path,
            Index = i,
            BaseAddress = m.BaseOfImage,
            Size = m.SizeOfImage,
            PointerSize = PointerSize,
            Name = FileNameOf(m.Name) ?? $"unloaded_{m.BaseOfImage:x}",
            Path = m.Name,
            TimeDateStamp = m.TimeDateStamp,
            Timestamp = m.TimeDateStamp == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(m.TimeDateStamp),
            CheckSum = m.CheckSum,
            IsUnloaded = true,
        }).ToArray();

    private DumpModule BuildModule(ModuleRecord m)
    {
        var cv = m.CodeView;
        var version = ReadVersionResource(m);
        return new DumpModule
        {
            DumpPath = Path,
            Index = m.Index,
            BaseAddress = m.BaseOfImage,
            Size = m.SizeOfImage,
            PointerSize = PointerSize,
            // An unnamed module still needs a handle a person can type: WinDbg's "image<base>".
            Name = FileNameOf(m.Name) ?? $"image{m.BaseOfImage:x}",
            Path = m.Name,
            FileVersion = m.Version?.FileVersion,
            ProductVersion = m.Version?.ProductVersion,
            TimeDateStamp = m.TimeDateStamp,
            Timestamp = m.TimeDateStamp == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(m.TimeDateStamp),
            CheckSum = m.CheckSum,
            PdbName = cv?.PdbName,
            PdbGuid = cv?.Guid,
            PdbAge = cv is { Format: "RSDS" or "NB10" } ? cv.Age : null,
            CodeViewFormat = cv?.Format,
            BuildId = cv?.BuildId is { Length: > 0 } id ? Convert.ToHexString(id) : null,
            CompanyName = version?.CompanyName,
            FileDescription = version?.FileDescription,
            IsUnloaded = false,
        };
    }

    /// <summary>
    /// The version resource of the module's image, when the dump holds its headers and resource pages (full-memory
    /// dumps do; others usually hold none of the image). Touches a handful of pages: the headers, the resource
    /// directory path to RT_VERSION, and the VS_VERSIONINFO.
    /// </summary>
    private VersionResource? ReadVersionResource(ModuleRecord m)
    {
        if (m.BaseOfImage == 0 || !Memory.Contains(m.BaseOfImage)) return null;
        var image = PeImage.TryParse(new DumpImageBytes(Memory, m.BaseOfImage, m.SizeOfImage));
        return image is null ? null : VersionResource.TryRead(image);
    }

    /// <summary>The last path component; dumps of Windows use '\', of Linux and macOS '/'.</summary>
    internal static string? FileNameOf(string? path)
    {
        if (string.IsNullOrEmpty(path)) return null;
        int cut = path.LastIndexOfAny(['\\', '/']);
        string name = cut >= 0 ? path[(cut + 1)..] : path;
        return name.Length > 0 ? name : path;
    }
}
